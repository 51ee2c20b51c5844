/// The `taskUids` setting: the uids (and, the same numbers, gids) attempts run as.
enum TaskUIDRange {
    /// The default: far above what `useradd` (1000–60000), systemd's dynamic users (61184–65519)
    /// and the usual subordinate-uid ranges of containers (100000 on, 65536 a user) hand out, and
    /// below 2^31, which some tools still read as a signed number. 65536 uids: more attempts than
    /// an agent runs at once, and each comes back only after all the others were used.
    static let defaultRange: ClosedRange<UInt32> = 2_000_000_000...2_000_065_535
    static let defaultText = "2000000000-2000065535"

    /// `FIRST-LAST`, or nil for `none` (tasks run as the agent's uid); a message saying what is
    /// wrong otherwise.
    static func parse(_ text: String) -> Result<ClosedRange<UInt32>?, Refusal> {
        if text == "none" { return .success(nil) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = UInt32(parts[0]), let last = UInt32(parts[1]) else {
            return .failure(Refusal("'\(text)' is not a uid range FIRST-LAST such as \(defaultText), or none"))
        }
        guard first <= last else { return .failure(Refusal("'\(text)' ends before it begins: give FIRST-LAST with FIRST <= LAST")) }
        guard first > 0 else { return .failure(Refusal("'\(text)' includes uid 0 (root): tasks must not run as root; start the range above 0")) }
        // (uid_t)-1 means "unchanged" to setresuid, and 65534 is `nobody`, shared by every daemon that drops to it.
        for reserved: UInt32 in [65534, .max] where (first...last).contains(reserved) {
            return .failure(Refusal("'\(text)' includes the reserved uid \(reserved): choose a range without it, e.g. \(defaultText)"))
        }
        return .success(first...last)
    }

    struct Refusal: Error, Equatable {
        var message: String
        init(_ message: String) { self.message = message }
    }
}
