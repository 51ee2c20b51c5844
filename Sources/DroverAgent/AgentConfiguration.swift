import DroverAPI
import Foundation

/// Everything an agent needs to start; unset capacity values are detected from the host.
public struct AgentConfiguration: Sendable {
    public var coordinatorURL: String = "http://127.0.0.1:7070"
    public var joinToken: String = ""
    /// Node name; defaults to the host name.
    public var name: String?
    /// CPU cores offered; detected when nil.
    public var cpu: Double?
    /// Memory offered in bytes; detected when nil.
    public var memoryBytes: Int64?
    /// Number of GPUs offered; detected with nvidia-smi when nil.
    public var gpus: Int?
    /// nvidia-smi to run instead of the one on PATH.
    public var nvidiaSmi: String?
    public var labels: [String: String] = [:]
    public var prices = PriceRates()
    /// Where attempts get their working directories.
    public var workDirectory: String = NSTemporaryDirectory() + "drover-agent"
    /// Time between SIGTERM and SIGKILL when stopping a task.
    public var killGrace: Duration = .seconds(10)
    /// Most leases to take in one poll.
    public var maxLeasesPerPoll: Int = 64
    /// How long a poll may wait at the coordinator for work.
    public var pollWait: Duration = .seconds(20)
    /// Keep the working directories of attempts that succeeded (they are removed otherwise).
    public var keepWorkDirectories = false

    public init() {}
}
