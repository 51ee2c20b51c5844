/// Identifies a job. Assigned by the coordinator in submission order.
public struct JobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public init?(_ text: String) {
        guard let value = Int64(text), value > 0 else { return nil }
        self.rawValue = value
    }
    public var description: String { String(rawValue) }
    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }
}

/// Identifies a registered agent machine.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public init?(_ text: String) {
        let digits = text.hasPrefix("n") ? String(text.dropFirst()) : text
        guard let value = Int64(digits), value > 0 else { return nil }
        self.rawValue = value
    }
    public var description: String { "n\(rawValue)" }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
}

/// Identifies one attempt (one lease of a task) cluster-wide.
///
/// The id doubles as the attempt's fencing token: it is drawn from one counter that only
/// grows, so a later attempt of the same task always carries a larger token than every
/// earlier one, and a write carrying an older token is recognisably stale.
public struct AttemptID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
    public static func < (a: AttemptID, b: AttemptID) -> Bool { a.rawValue < b.rawValue }
}

/// A task is a job plus a shard index (0 for training jobs).
public struct TaskRef: Hashable, Sendable, CustomStringConvertible {
    public var job: JobID
    public var index: Int
    public init(job: JobID, index: Int) {
        self.job = job
        self.index = index
    }
    public var description: String { "\(job)/\(index)" }
}
