import DroverCore
import Foundation

// The agent protocol: registration, polls, heartbeats and reports.


/// `POST /v1/agents/register`, authenticated with the join token.
public struct RegisterRequest: Codable, Hashable, Sendable {
    public var name: String
    public var cpu: Double
    public var memory: Int64
    public var gpus: [GPUInfo]
    public var labels: [String: String]
    public var prices: PriceRates
    /// Whether the agent runs each attempt as a uid of its own; an agent that does not say is taken as `none`.
    public var taskIsolation: TaskIsolation?

    public init(name: String, cpu: Double, memory: Int64, gpus: [GPUInfo], labels: [String: String], prices: PriceRates,
                taskIsolation: TaskIsolation? = nil) {
        (self.name, self.cpu, self.memory, self.gpus, self.labels, self.prices) = (name, cpu, memory, gpus, labels, prices)
        self.taskIsolation = taskIsolation
    }
}

/// A GPU an agent offers.
public struct GPUInfo: Codable, Hashable, Sendable {
    public var index: Int
    public var name: String
    public var memoryMiB: Int?
    public init(index: Int, name: String, memoryMiB: Int?) {
        (self.index, self.name, self.memoryMiB) = (index, name, memoryMiB)
    }
}

/// Hourly prices in the cluster's currency.
public struct PriceRates: Codable, Hashable, Sendable {
    public var cpuHour: Decimal
    public var memoryGiBHour: Decimal
    public var gpuHour: Decimal
    public init(cpuHour: Decimal = 0, memoryGiBHour: Decimal = 0, gpuHour: Decimal = 0) {
        (self.cpuHour, self.memoryGiBHour, self.gpuHour) = (cpuHour, memoryGiBHour, gpuHour)
    }
}

/// The answer to a registration: the agent's own identity and token.
public struct RegisterResponse: Codable, Hashable, Sendable {
    public var nodeId: String
    public var token: String
    public var heartbeatIntervalMs: Int64
    public var leaseTtlMs: Int64
    public init(nodeId: String, token: String, heartbeatIntervalMs: Int64, leaseTtlMs: Int64) {
        (self.nodeId, self.token, self.heartbeatIntervalMs, self.leaseTtlMs) = (nodeId, token, heartbeatIntervalMs, leaseTtlMs)
    }
}

/// `POST /v1/agents/poll`: a long poll for new leases and cancellations.
public struct PollRequest: Codable, Hashable, Sendable {
    /// Most leases to hand out in one answer.
    public var maxLeases: Int
    /// How long the coordinator may hold the request when it has nothing to give.
    public var waitMs: Int64
    public init(maxLeases: Int, waitMs: Int64) {
        (self.maxLeases, self.waitMs) = (maxLeases, waitMs)
    }
}

public struct PollResponse: Codable, Hashable, Sendable {
    public var leases: [LeaseView]
    /// Attempts of this agent to stop (their job was cancelled or failed).
    public var cancel: [String]
    public init(leases: [LeaseView], cancel: [String]) {
        (self.leases, self.cancel) = (leases, cancel)
    }
}

/// A task handed to an agent. `attemptId` is the fencing token every later write carries.
public struct LeaseView: Codable, Hashable, Sendable {
    public var attemptId: String
    public var jobId: String
    public var jobName: String
    public var team: String
    public var task: Int
    public var taskCount: Int
    public var attempt: Int
    public var command: [String]
    public var env: [String: String]
    public var resources: ResourcesView
    public var gpus: [Int]
    public var timeoutMs: Int64?
    /// Names of variables in `env` whose values the agent masks in shipped output.
    public var secretEnv: [String]?
    public init(attemptId: String, jobId: String, jobName: String, team: String, task: Int, taskCount: Int, attempt: Int, command: [String],
                env: [String: String], resources: ResourcesView, gpus: [Int], timeoutMs: Int64?, secretEnv: [String]? = nil) {
        self.secretEnv = secretEnv
        self.attemptId = attemptId
        self.jobId = jobId
        self.jobName = jobName
        self.team = team
        self.task = task
        self.taskCount = taskCount
        self.attempt = attempt
        self.command = command
        self.env = env
        self.resources = resources
        self.gpus = gpus
        self.timeoutMs = timeoutMs
    }
}

/// `POST /v1/agents/heartbeat`: the agent is alive and holds these attempts.
public struct HeartbeatRequest: Codable, Hashable, Sendable {
    public var attempts: [HeartbeatAttempt]
    public init(attempts: [HeartbeatAttempt]) { self.attempts = attempts }
}

public struct HeartbeatAttempt: Codable, Hashable, Sendable {
    public var attemptId: String
    /// The latest line the task wrote to `DROVER_PROGRESS_FILE`, if any.
    public var progress: JSONValue?
    public init(attemptId: String, progress: JSONValue?) {
        (self.attemptId, self.progress) = (attemptId, progress)
    }
}

public struct HeartbeatResponse: Codable, Hashable, Sendable {
    /// Attempts the coordinator does not hold as this agent's: kill them, do not report.
    public var unknown: [String]
    public var cancel: [String]
    public init(unknown: [String], cancel: [String]) {
        (self.unknown, self.cancel) = (unknown, cancel)
    }
}

/// `POST /v1/agents/reports`: attempts that ended.
public struct ReportBatch: Codable, Hashable, Sendable {
    public var reports: [ReportView]
    /// When set, the coordinator also leases up to this many tasks to the agent once the
    /// reports are committed (the capacity they freed), in the same commit, and answers them
    /// in `leases`: one round trip per finished task instead of a report and a poll.
    public var maxLeases: Int?
    public init(reports: [ReportView], maxLeases: Int? = nil) {
        self.reports = reports
        self.maxLeases = maxLeases
    }
}

public struct ReportView: Codable, Hashable, Sendable {
    public var attemptId: String
    /// succeeded | failed | timed_out | cancelled | preempted; the coordinator refuses
    /// `running` and `lost` (which only it decides) in that report's verdict.
    public var outcome: AttemptState
    public var exitCode: Int32?
    public var signal: Int32?
    public var wallMs: Int64?
    public var peakRssBytes: Int64?
    public var progress: JSONValue?
    public var reason: String?
    public init(attemptId: String, outcome: AttemptState, exitCode: Int32?, signal: Int32?, wallMs: Int64?, peakRssBytes: Int64?,
                progress: JSONValue?, reason: String?) {
        self.attemptId = attemptId
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.wallMs = wallMs
        self.peakRssBytes = peakRssBytes
        self.progress = progress
        self.reason = reason
    }

    /// The outcomes an agent may report.
    public static let reportable: [AttemptState] = [.succeeded, .failed, .timedOut, .cancelled, .preempted]

    private enum CodingKeys: String, CodingKey { case attemptId, outcome, exitCode, signal, wallMs, peakRssBytes, progress, reason }

    /// Like the synthesized decoder, except that an unknown outcome is refused naming the
    /// reportable ones. `running` and `lost` decode, so that the coordinator refuses such a
    /// report on its own (an `invalid` verdict) instead of the whole batch.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .outcome)
        guard let outcome = AttemptState(rawValue: text) else {
            throw DecodingError.dataCorruptedError(forKey: .outcome, in: container, debugDescription:
                "\"\(text)\" is not one of \(Self.reportable.map(\.rawValue).joined(separator: ", "))")
        }
        self.init(attemptId: try container.decode(String.self, forKey: .attemptId), outcome: outcome,
                  exitCode: try container.decodeIfPresent(Int32.self, forKey: .exitCode),
                  signal: try container.decodeIfPresent(Int32.self, forKey: .signal),
                  wallMs: try container.decodeIfPresent(Int64.self, forKey: .wallMs),
                  peakRssBytes: try container.decodeIfPresent(Int64.self, forKey: .peakRssBytes),
                  progress: try container.decodeIfPresent(JSONValue.self, forKey: .progress),
                  reason: try container.decodeIfPresent(String.self, forKey: .reason))
    }
}

public struct ReportResults: Codable, Hashable, Sendable {
    public var results: [ReportResultView]
    /// New leases for the agent, when the batch asked for them with `maxLeases`.
    public var leases: [LeaseView]?
    public init(results: [ReportResultView], leases: [LeaseView]? = nil) {
        self.results = results
        self.leases = leases
    }
}

/// What became of one report (see `ReportVerdict`).
public struct ReportResultView: Codable, Hashable, Sendable {
    public var attemptId: String
    public var status: ReportVerdict
    public var detail: String?
    public init(attemptId: String, status: ReportVerdict, detail: String?) {
        (self.attemptId, self.status, self.detail) = (attemptId, status, detail)
    }
}
