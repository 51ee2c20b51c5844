import DroverAPI
import DroverTesting
import Foundation
import Testing

@Suite struct JSONValueTests {
    let sample: JSONValue = .object([
        "null": .null, "yes": .bool(true), "no": .bool(false), "int": .number(42), "negative": .number(-7),
        "fraction": .number(0.25), "big": .number(1e20), "text": .string("héllo \"quoted\"\n"),
        "list": .array([.number(1), .string("two"), .array([]), .object([:])]),
        "nested": .object(["loss": .number(0.21), "epoch": .number(3)]),
    ])

    @Test func roundTripsThroughJSON() throws {
        let data = try JSONEncoder().encode(sample)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == sample)
    }

    @Test func wholeNumbersAreWrittenWithoutAFraction() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(JSONValue.object(["a": .number(3), "b": .number(2.5), "c": .bool(true)])), as: UTF8.self)
        #expect(text == #"{"a":3,"b":2.5,"c":true}"#)
    }

    @Test func decodesBooleansAsBooleansAndNumbersAsNumbers() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"[true, 1, 0, 1.5, "1", null]"#.utf8))
        #expect(value == .array([.bool(true), .number(1), .number(0), .number(1.5), .string("1"), .null]))
    }

    @Test func convertsWhatParsersProduce() throws {
        let any: Any = ["a": [1, 2.5, "x", true, NSNull()] as [Any], "b": ["c": "d"]] as [String: Any]
        let value = try JSONValue(any: any)
        #expect(value == .object(["a": .array([.number(1), .number(2.5), .string("x"), .bool(true), .null]), "b": .object(["c": .string("d")])]))
    }

    @Test func refusesUnsupportedValuesNamingThePath() {
        do {
            _ = try JSONValue(any: ["outer": ["when": Date()] as [String: Any]] as [String: Any])
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "outer.when")
        }
    }

    @Test func typeNames() {
        #expect(JSONValue.null.typeName == "null" && JSONValue.bool(true).typeName == "a boolean" && JSONValue.array([]).typeName == "a list")
    }
}

@Suite struct WireTimeTests {
    @Test func formatsRFC3339InUTCWithMilliseconds() {
        #expect(WireTime.format(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(WireTime.format(milliseconds: 1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
    }

    @Test func parsesWithAndWithoutFraction() {
        #expect(WireTime.parse("2023-11-14T22:13:20.123Z") == 1_700_000_000_123)
        #expect(WireTime.parse("2023-11-14T22:13:20Z") == 1_700_000_000_000)
        #expect(WireTime.parse("2023-11-14T23:13:20.123+01:00") == 1_700_000_000_123)
        #expect(WireTime.parse("2023-11-14T22:13:20.5Z") == 1_700_000_000_500)
        #expect(WireTime.parse("yesterday") == nil)
        #expect(WireTime.parse("") == nil)
    }

    @Test func roundTripsEveryMillisecondOfASample() {
        var random = SplitMix64(seed: 7)
        var failures: [Int64] = []
        for _ in 0..<2000 {
            let ms = Int64.random(in: 0...4_102_444_800_000, using: &random)  // up to 2100
            if WireTime.parse(WireTime.format(milliseconds: ms)) != ms { failures.append(ms) }
        }
        for ms: Int64 in [1, 999, 1000, 1_700_000_000_001, 1_700_000_000_999, 1_234_567_890_123] where WireTime.parse(WireTime.format(milliseconds: ms)) != ms {
            failures.append(ms)
        }
        #expect(failures.isEmpty, "lost precision: \(failures.prefix(5).map { "\($0) → \(WireTime.format(milliseconds: $0))" })")
    }
}


extension WireTimeTests {
    @Test func formatsInstantsBeforeTheEpoch() {
        #expect(WireTime.format(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(WireTime.parse("1969-12-31T23:59:59.999Z") == -1)
    }
}

extension JSONValueTests {
    /// `JSONValue(any:)` says it converts JSONSerialization output, but the `as Bool` case
    /// matches the NSNumbers 0 and 1 first, so `{"tasks": 1}` would read as `tasks: true`.
    /// Only Yams output reaches it today (which has real Swift Bools), hence not fixed.
    @Test func convertsJSONSerializationOutput() throws {
        let any = try JSONSerialization.jsonObject(with: Data(#"{"n": 1, "z": 0, "f": 2.5, "b": true, "s": "x", "l": [null]}"#.utf8))
        let value = try JSONValue(any: any)
        withKnownIssue("NSNumber 0 and 1 are taken for booleans") {
            #expect(value == .object(["n": .number(1), "z": .number(0), "f": .number(2.5), "b": .bool(true), "s": .string("x"), "l": .array([.null])]))
        }
    }
}
