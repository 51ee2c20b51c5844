/// The uids of a configured range that running attempts hold: each attempt gets one that no
/// other running attempt on this agent holds (its gid is the same number).
///
/// Handed out round-robin, the one after the last handed out first, so a uid comes back
/// only after every other one in the range has been used: whatever a finished attempt left
/// behind under its uid (files in a shared /tmp, a process that escaped its group) meets
/// another task as late as possible. Pure: the agent's ``TaskUsers`` wraps it in a lock.
struct TaskUIDPool: Sendable, Equatable {
    let range: ClosedRange<UInt32>
    private var held: Set<UInt32> = []
    private var next: UInt32

    init(range: ClosedRange<UInt32>) {
        self.range = range
        next = range.lowerBound
    }

    /// How many uids are held now.
    var heldCount: Int { held.count }

    /// A uid no running attempt holds, now held; nil when every uid of the range is.
    mutating func acquire() -> UInt32? {
        guard UInt64(held.count) < UInt64(range.count) else { return nil }
        while held.contains(next) { advance() }
        let uid = next
        held.insert(uid)
        advance()
        return uid
    }

    /// `uid`'s attempt ended: another may have it.
    mutating func release(_ uid: UInt32) {
        held.remove(uid)
    }

    private mutating func advance() {
        next = next == range.upperBound ? range.lowerBound : next + 1
    }
}
