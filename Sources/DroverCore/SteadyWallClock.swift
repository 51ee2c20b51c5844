/// Wall-clock timestamps that move with a monotonic clock: the wall clock is read once, when
/// this clock is made, and from then on time advances by monotonic time only.
///
/// So a step of the system clock (NTP, an operator, a VM resumed) changes no duration the
/// coordinator measures: node liveness, lease expiry and metered cost stay true, and the wall
/// clock is only a label. Timestamps then differ from the system clock by the steps since the
/// start (``drift()``), until the next start reads it again.
public final class SteadyWallClock: WallClock {
    private let wall: any WallClock
    private let monotonic: any MonotonicClock
    private let origin: Timestamp
    private let start: ContinuousClock.Instant

    public init(wall: any WallClock, monotonic: any MonotonicClock) {
        self.wall = wall
        self.monotonic = monotonic
        origin = wall.now()
        start = monotonic.now
    }

    public func now() -> Timestamp {
        origin.adding(milliseconds: (monotonic.now - start).milliseconds)
    }

    /// How far the system clock has stepped away from these timestamps, in milliseconds
    /// (positive: the system clock is ahead).
    public func drift() -> Int64 {
        wall.now().milliseconds - now().milliseconds
    }
}
