/// A wall-clock instant in milliseconds since the Unix epoch.
///
/// Persisted and compared across restarts, so it is wall time rather than a monotonic
/// instant; the coordinator obtains it from an injected ``WallClock``.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }
    public func milliseconds(since earlier: Timestamp) -> Int64 { milliseconds - earlier.milliseconds }
    public var description: String { "\(milliseconds)ms" }
}

/// Source of the current wall time; injected so tests control it.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}
