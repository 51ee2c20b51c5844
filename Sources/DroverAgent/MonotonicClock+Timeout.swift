import DroverCore

// The agent's timers (heartbeat, disconnect grace, task timeouts, log shipping, retry
// backoff) run on an injected `MonotonicClock` (DroverCore): `ContinuousClock` in
// production, a manual clock in tests, so those rules are tested in-process without waiting.

extension MonotonicClock {
    /// Runs `operation` and cancels it after `timeout` of this clock; nil when it timed out.
    /// The operation must end when cancelled (a network call does), or this waits for it.
    func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
        let deadline = now + timeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await self.sleep(until: deadline, tolerance: nil)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// Delays between retries of a request that failed: doubling from `initial` up to `limit`,
/// back to `initial` after a success.
struct Backoff: Sendable {
    let initial: Duration
    let limit: Duration
    private var current: Duration

    init(initial: Duration, limit: Duration = .seconds(5)) {
        (self.initial, self.limit, current) = (initial, limit, initial)
    }

    /// The delay before the next retry (then the one after it doubles).
    mutating func next() -> Duration {
        defer { current = min(current * 2, limit) }
        return current
    }

    /// A request succeeded: the next failure waits `initial` again.
    mutating func reset() { current = initial }
}
