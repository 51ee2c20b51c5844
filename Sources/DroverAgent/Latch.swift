import DroverCore
import Synchronization

/// A one-time event: once opened it stays open. Waiting for it ends early when the waiting
/// task is cancelled, so it can be raced against a timer in a task group.
final class Latch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    init() {}

    /// Whether `open()` was called.
    var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Opens the latch and wakes every waiter.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the latch is open or the task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Waits until the latch opens or `clock` reaches `deadline`; true if it opened.
    func wait(orUntil deadline: ContinuousClock.Instant, on clock: any MonotonicClock) async -> Bool {
        if isOpen { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait()
                return self.isOpen
            }
            group.addTask {
                try? await clock.sleep(until: deadline, tolerance: nil)
                return self.isOpen
            }
            defer { group.cancelAll() }
            return await group.next()!
        }
    }
}
