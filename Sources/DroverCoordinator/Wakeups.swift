import DroverCore
import Synchronization

/// Wakes long-polling agents when there may be work for them: a submission or a requeue
/// (every node), or capacity freed on one node.
///
/// A poll takes a snapshot of the generations before it looks for work and waits only if
/// nothing changed since, so a wake-up between looking and waiting is never missed.
final class Wakeups: Sendable {
    struct Snapshot: Equatable {
        var global: UInt64
        var node: UInt64
    }

    private struct State {
        var global: UInt64 = 0
        var perNode: [NodeID: UInt64] = [:]
        var nextID = 0
        var waiters: [Int: (node: NodeID, continuation: CheckedContinuation<Void, Never>)] = [:]
        var abandoned: Set<Int> = []

        func snapshot(_ node: NodeID) -> Snapshot { Snapshot(global: global, node: perNode[node] ?? 0) }
    }

    private let state = Mutex(State())
    /// What timeouts are measured on.
    private let clock: any MonotonicClock

    init(clock: any MonotonicClock) {
        self.clock = clock
    }

    func snapshot(for node: NodeID) -> Snapshot {
        state.withLock { $0.snapshot(node) }
    }

    /// Wakes every waiting poll.
    func wakeAll() {
        let continuations = state.withLock { state in
            state.global += 1
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in continuations { continuation.resume() }
    }

    /// Wakes the polls of one node.
    func wake(_ node: NodeID) {
        let continuations = state.withLock { state in
            state.perNode[node, default: 0] += 1
            let matching = state.waiters.filter { $0.value.node == node }
            for id in matching.keys { state.waiters[id] = nil }
            return matching.values.map(\.continuation)
        }
        for continuation in continuations { continuation.resume() }
    }

    /// Waits until woken, until `timeout`, or until the task is cancelled, unless something
    /// changed since `snapshot` was taken.
    func wait(node: NodeID, since snapshot: Snapshot, timeout: Duration) async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await self.clock.sleep(for: timeout)
                self.abandon(id)
            }
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let registered = self.state.withLock { state in
                        guard !state.abandoned.contains(id), state.snapshot(node) == snapshot else {
                            state.abandoned.remove(id)
                            return false
                        }
                        state.waiters[id] = (node, continuation)
                        return true
                    }
                    if !registered { continuation.resume() }
                }
            }
            await group.next()
            abandon(id)
            group.cancelAll()
        }
        state.withLock { _ = $0.abandoned.remove(id) }
    }

    /// Resumes waiter `id` if it is registered, or keeps it from registering later.
    private func abandon(_ id: Int) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter.continuation }
            state.abandoned.insert(id)
            return nil
        }
        continuation?.resume()
    }
}
