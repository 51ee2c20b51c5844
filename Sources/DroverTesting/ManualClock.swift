import DroverCore
import Synchronization

/// A clock that moves only when a test says so: the wall clock the core stamps changes with
/// and, as ``monotonic``, the monotonic clock the shells wait on, advanced together.
///
/// Sleepers wake when ``advance(milliseconds:)`` reaches their deadline. ``waitForSleepers(_:)``
/// lets a test wait until the code under test is parked before it moves time, so nothing
/// depends on how fast the machine is.
public final class ManualClock: WallClock {
    private let wall: Mutex<Timestamp>
    /// The monotonic half, with its own ways to wait for sleepers.
    public let monotonic = ManualMonotonicClock()

    public init(_ start: Timestamp = Timestamp(milliseconds: 1_700_000_000_000)) {
        wall = Mutex(start)
    }

    public func now() -> Timestamp { wall.withLock { $0 } }

    /// Moves both clocks forward and wakes every sleeper whose deadline has come.
    public func advance(milliseconds: Int64) {
        wall.withLock { $0 = $0.adding(milliseconds: milliseconds) }
        monotonic.advance(by: .milliseconds(milliseconds))
    }

    /// Returns once at least `count` tasks sleep on this clock.
    public func waitForSleepers(_ count: Int = 1) async {
        await monotonic.waitForSleepers { $0.count >= count }
    }
}

/// The code under test did not do what a manual-clock test waited for.
public struct ManualClockError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
