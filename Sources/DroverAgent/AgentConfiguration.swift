import DroverAPI
import DroverTrust
import Foundation

/// Everything an agent needs to start; unset capacity values are detected from the host.
public struct AgentConfiguration: Sendable {
    public var coordinatorURL: String = "http://127.0.0.1:7070"
    /// PEM CA certificate to trust for an HTTPS coordinator.
    public var caCertificate: String?
    /// Pin of the only CA to trust (`sha256:HEX`), as the coordinator printed it at start.
    public var caPin: CAPin?
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
    /// Where attempts get their working directories; nil: one per agent name under TMPDIR
    /// (``effectiveWorkDirectory``), so two agents on one machine never share one.
    public var workDirectory: String?
    /// Time between SIGTERM and SIGKILL when stopping a task.
    public var killGrace: Duration = .seconds(10)
    /// Most leases to take in one poll.
    public var maxLeasesPerPoll: Int = 64
    /// How long a poll may wait at the coordinator for work.
    public var pollWait: Duration = .seconds(20)
    /// Keep the working directories of attempts that succeeded (they are removed otherwise).
    public var keepWorkDirectories = false
    /// How long tasks keep running while the coordinator cannot be reached; past it the agent
    /// stops them itself, so a partitioned agent never runs on. Nil: the coordinator's lease TTL.
    public var disconnectGrace: Duration?
    /// Root of `DROVER_CHECKPOINT_DIR` (`ROOT/JOB/task-N`); a shared filesystem lets a task
    /// resume on another machine. Default: `workDirectory/checkpoints`.
    public var checkpointRoot: String?
    /// The uids (and gids) attempts run as when the agent is root, one per running attempt;
    /// nil (`none`): attempts run as the agent's uid.
    public var taskUIDs: ClosedRange<UInt32>? = TaskUIDRange.defaultRange

    public init() {}

    /// The node name: the one given, else the host name's first label.
    public var effectiveName: String {
        name ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "agent"
    }

    /// The work directory: the one given, else `TMPDIR/drover-agent-NAME`.
    public var effectiveWorkDirectory: String {
        workDirectory ?? NSTemporaryDirectory() + "drover-agent-" + String(effectiveName.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }
}
