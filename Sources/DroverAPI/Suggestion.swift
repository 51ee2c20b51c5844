/// "Did you mean …?" for a mistyped name: the closest known name by edit distance.
public enum Suggestion {
    /// The known name `typed` was probably meant to be: the same but for case and separators
    /// (`lease_ttl` → `leaseTTL`), else one letter off (two from five letters on: `timout`,
    /// `memroy`, `shwo`). A tie goes to the name listed first.
    public static func closest(to typed: String, in known: [String]) -> String? {
        func normalized(_ text: String) -> String { text.lowercased().filter { $0 != "_" && $0 != "-" } }
        let key = normalized(typed)
        if let same = known.first(where: { normalized($0) == key }) { return same }
        let nearest = known.map { ($0, editDistance(normalized($0), key)) }.min { $0.1 < $1.1 }
        guard let nearest, nearest.1 <= (key.count >= 5 ? 2 : 1) else { return nil }
        return nearest.0
    }

    /// `; did you mean 'x'?` when there is a near name, else empty.
    public static func didYouMean(_ typed: String, in known: [String]) -> String {
        closest(to: typed, in: known).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Optimal string alignment distance: Levenshtein with adjacent transpositions (`shwo` → `show` is 1).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
