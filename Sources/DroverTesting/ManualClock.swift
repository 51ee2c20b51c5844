import DroverCore
import Synchronization

/// A clock that moves only when a test says so: the wall clock the core stamps changes with
/// and the monotonic clock the shells wait on, advanced together.
///
/// Sleepers wake when ``advance(milliseconds:)`` reaches their deadline. ``waitForSleepers(_:)``
/// lets a test wait until the code under test is parked before it moves time, so nothing
/// depends on how fast the machine is.
public final class ManualClock: WallClock, MonotonicClock {
    private struct State {
        var wall: Timestamp
        var uptime: Duration = .zero
        var nextID = 0
        var sleepers: [Int: (deadline: Duration, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var cancelled: Set<Int> = []
    }

    private let state: Mutex<State>

    public init(_ start: Timestamp = Timestamp(milliseconds: 1_700_000_000_000)) {
        state = Mutex(State(wall: start))
    }

    public func now() -> Timestamp { state.withLock { $0.wall } }

    public func uptime() -> Duration { state.withLock { $0.uptime } }

    /// Moves both clocks forward and wakes every sleeper whose deadline has come.
    public func advance(milliseconds: Int64) {
        let due = state.withLock { state in
            state.wall = state.wall.adding(milliseconds: milliseconds)
            state.uptime += .milliseconds(milliseconds)
            let uptime = state.uptime
            let due = state.sleepers.filter { $0.value.deadline <= uptime }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Steps the wall clock alone (someone set the date), as NTP or an operator might.
    public func stepWall(milliseconds: Int64) {
        state.withLock { $0.wall = $0.wall.adding(milliseconds: milliseconds) }
    }

    /// How many tasks sleep on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Returns once at least `count` tasks sleep on this clock (polling on real time briefly;
    /// fails the wait after 30 s of real time, which only a hang reaches).
    public func waitForSleepers(_ count: Int = 1) async throws {
        for _ in 0..<30_000 {
            if sleeperCount >= count { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw ManualClockError("no \(count) sleeper(s) on the manual clock after 30 s; the code under test never waited")
    }

    public func sleep(until deadline: Duration) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.uptime { return .success(()) }
                    state.sleepers[id] = (deadline, continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper.continuation }
                state.cancelled.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
        state.withLock { _ = $0.cancelled.remove(id) }
    }
}

/// The code under test did not do what a manual-clock test waited for.
public struct ManualClockError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
