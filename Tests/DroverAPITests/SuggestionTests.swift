import DroverAPI
import Testing

/// "Did you mean" for mistyped commands and spec fields.
@Suite struct SuggestionTests {
    @Test func editDistanceCountsASwapAsOne() {
        #expect(Suggestion.editDistance("shwo", "show") == 1)
        #expect(Suggestion.editDistance("timout", "timeout") == 1)
        #expect(Suggestion.editDistance("kitten", "sitting") == 3)
        #expect(Suggestion.editDistance("", "abc") == 3)
        #expect(Suggestion.editDistance("same", "same") == 0)
    }

    @Test func suggestsTheNearestNameOnlyWhenItLooksLikeATypo() {
        let fields = ["name", "team", "timeout", "tasks", "maxAttempts"]
        #expect(Suggestion.closest(to: "timout", in: fields) == "timeout")
        #expect(Suggestion.closest(to: "MaxAttempt", in: fields) == "maxAttempts")
        #expect(Suggestion.closest(to: "shwo", in: ["show", "cancel"]) == "show")
        #expect(Suggestion.closest(to: "zzzz", in: fields) == nil, "nothing near: no suggestion")
        #expect(Suggestion.closest(to: "x", in: ["ab"]) == nil)
        #expect(Suggestion.didYouMean("cancle", in: ["show", "cancel"]) == "; did you mean 'cancel'?")
        #expect(Suggestion.didYouMean("zzzz", in: ["show", "cancel"]) == "")
    }
}
