/// Time that only moves forward: what the shells wait on and measure intervals with —
/// `ContinuousClock` in production, a manual clock in tests.
///
/// Unlike ``WallClock`` it never steps when someone sets the date. The core's operations take
/// `now` as a value and never read a clock; this protocol lives here so the coordinator, the
/// agent and the tests share one definition. Instants are `ContinuousClock`'s, so a test clock
/// only has to say how far it moved.
public protocol MonotonicClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }
    /// Suspends until `deadline`; throws `CancellationError` if the task is cancelled first.
    func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws
}

extension ContinuousClock: MonotonicClock {}

extension MonotonicClock {
    /// Suspends for `duration` of this clock's time; throws `CancellationError` when cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration, tolerance: nil)
    }
}
