import DroverCore
import DroverAgent
import Synchronization

/// A monotonic clock that moves only when a test says so, for the agent's timers: sleepers
/// wake when `advance` passes their deadline. A test that must not advance before a timer is
/// set waits for it with `waitForSleepers`, which is an event, not a sleep.
public final class ManualMonotonicClock: MonotonicClock {
    private struct Sleeper {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var now: ContinuousClock.Instant
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
        var watchers: [Int: (condition: @Sendable ([ContinuousClock.Instant]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = [:]

        var deadlines: [ContinuousClock.Instant] { sleepers.values.map(\.deadline).sorted() }

        /// Removes and returns the watchers whose condition now holds.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            let deadlines = deadlines
            let ready = watchers.filter { $0.value.condition(deadlines) }
            for id in ready.keys { watchers[id] = nil }
            return ready.values.map(\.continuation)
        }
    }
    private let state: Mutex<State>

    /// Starts at the continuous clock's present instant (only differences matter).
    public init() {
        state = Mutex(State(now: ContinuousClock.now))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }

    /// The deadlines of every task sleeping on this clock, earliest first.
    public var sleepingUntil: [ContinuousClock.Instant] { state.withLock { $0.deadlines } }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Verdict { case due, cancelled, waiting([CheckedContinuation<Void, Never>]) }
                let verdict = state.withLock { state -> Verdict in
                    if Task.isCancelled { return .cancelled }
                    if deadline <= state.now { return .due }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .waiting(state.satisfiedWatchers())
                }
                switch verdict {
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting(let watchers): for watcher in watchers { watcher.resume() }
                }
            }
        } onCancel: {
            let (sleeper, watchers) = state.withLock { state in
                let sleeper = state.sleepers.removeValue(forKey: id)
                return (sleeper, sleeper == nil ? [] : state.satisfiedWatchers())
            }
            sleeper?.continuation.resume(throwing: CancellationError())
            for watcher in watchers { watcher.resume() }
        }
    }

    /// Moves the clock forward by `duration` and wakes every sleeper whose deadline it passed.
    public func advance(by duration: Duration) {
        let (due, watchers) = state.withLock { state in
            state.now += duration
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return (due.values.sorted { $0.deadline < $1.deadline }.map(\.continuation), state.satisfiedWatchers())
        }
        for sleeper in due { sleeper.resume() }
        for watcher in watchers { watcher.resume() }
    }

    /// Moves the clock to `instant` (if it is ahead) and wakes the sleepers it passed.
    public func advance(to instant: ContinuousClock.Instant) {
        advance(by: max(.zero, instant - now))
    }

    /// Returns once the deadlines of the tasks sleeping on this clock satisfy `condition`.
    public func waitForSleepers(_ condition: @escaping @Sendable ([ContinuousClock.Instant]) -> Bool) async {
        await withCheckedContinuation { continuation in
            let holds = state.withLock { state in
                if condition(state.deadlines) { return true }
                state.watchers[state.nextID] = (condition, continuation)
                state.nextID += 1
                return false
            }
            if holds { continuation.resume() }
        }
    }

    /// Returns once some task sleeps until exactly `deadline`.
    public func waitForSleeper(until deadline: ContinuousClock.Instant) async {
        await waitForSleepers { $0.contains(deadline) }
    }
}
