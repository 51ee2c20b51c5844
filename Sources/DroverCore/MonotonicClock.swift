/// Time that only moves forward: what the shells wait on and measure intervals with.
///
/// Unlike ``WallClock`` it never steps when someone sets the date. The core's operations take
/// `now` as a value and never read a clock; this protocol lives here so the coordinator, the
/// agent and the tests share one definition.
public protocol MonotonicClock: Sendable {
    /// Time since an arbitrary fixed start.
    func uptime() -> Duration
    /// Suspends until ``uptime()`` reaches `deadline`; throws `CancellationError` if the task is cancelled first.
    func sleep(until deadline: Duration) async throws
}

extension MonotonicClock {
    /// Suspends for `duration` (at once when it is not positive).
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: uptime() + duration)
    }
}

/// The process's continuous clock (CLOCK_MONOTONIC, which keeps counting while suspended).
public struct SystemMonotonicClock: MonotonicClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func uptime() -> Duration { ContinuousClock.now - origin }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin + deadline, clock: .continuous)
    }
}
