import DroverCore
import Foundation

// The JSON bodies of the /v1 API. Field names are part of the user-facing contract.

/// Counts of a job's tasks by state.
public struct TaskCounts: Codable, Hashable, Sendable {
    public var total, queued, running, succeeded, failed, cancelled: Int
    public init(total: Int, queued: Int, running: Int, succeeded: Int, failed: Int, cancelled: Int) {
        (self.total, self.queued, self.running, self.succeeded, self.failed, self.cancelled) = (total, queued, running, succeeded, failed, cancelled)
    }
}

/// Resources as shown to people: cores, bytes, GPUs.
public struct ResourcesView: Codable, Hashable, Sendable {
    public var cpu: Double
    public var memory: Int64
    public var gpu: Int
    public init(cpu: Double, memory: Int64, gpu: Int) {
        (self.cpu, self.memory, self.gpu) = (cpu, memory, gpu)
    }
}

/// A job, as `GET /v1/jobs/{id}` returns it (attempts and events only there).
public struct JobView: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var team: String
    public var kind: JobKind
    public var state: JobState
    public var priority: Int
    public var tasks: TaskCounts
    public var command: [String]
    /// The job's environment; values of secret variables are replaced by `***`.
    public var env: [String: String]?
    public var resources: ResourcesView
    public var submittedAt: String
    public var startedAt: String?
    public var endedAt: String?
    public var submittedBy: String
    public var reason: String?
    /// Why queued tasks are not running, when some are.
    public var pendingReason: String?
    /// Total cost of the job's attempts so far, in the rates' currency.
    public var cost: Decimal
    /// The part of `cost` spent on attempts that did not succeed (failed, lost, timed out, preempted, cancelled).
    public var costWasted: Decimal?
    /// Currency code of `cost`.
    public var currency: String?
    /// Latest progress of running tasks (training jobs: the one task's).
    public var progress: JSONValue?
    public var attempts: [AttemptView]?
    public var events: [EventView]?
    public var eventsTotal: Int?

    public init(id: String, name: String, team: String, kind: JobKind, state: JobState, priority: Int, tasks: TaskCounts,
                command: [String], resources: ResourcesView, submittedAt: String, startedAt: String?, endedAt: String?,
                submittedBy: String, reason: String?, pendingReason: String?, cost: Decimal, progress: JSONValue?,
                attempts: [AttemptView]? = nil, events: [EventView]? = nil, eventsTotal: Int? = nil) {
        self.id = id
        self.name = name
        self.team = team
        self.kind = kind
        self.state = state
        self.priority = priority
        self.tasks = tasks
        self.command = command
        self.resources = resources
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.submittedBy = submittedBy
        self.reason = reason
        self.pendingReason = pendingReason
        self.cost = cost
        self.progress = progress
        self.attempts = attempts
        self.events = events
        self.eventsTotal = eventsTotal
    }

    /// Whether the job has ended (succeeded, failed or cancelled).
    public var isFinished: Bool { state.isTerminal }
}

/// One attempt of one task.
public struct AttemptView: Codable, Hashable, Sendable {
    /// The attempt id, which is also its fencing token.
    public var id: String
    public var task: Int
    public var attempt: Int
    public var node: String
    /// `running` while the attempt holds its lease.
    public var outcome: AttemptState
    public var exitCode: Int32?
    public var signal: Int32?
    public var startedAt: String
    public var endedAt: String?
    public var peakRssBytes: Int64?
    public var cost: Decimal
    public var gpus: [Int]
    public var progress: JSONValue?
    public var reason: String?
    /// The attempt's job, in webhook deliveries (`job show` nests attempts under their job).
    public var job: String?

    public init(id: String, task: Int, attempt: Int, node: String, outcome: AttemptState, exitCode: Int32?, signal: Int32?, startedAt: String,
                endedAt: String?, peakRssBytes: Int64?, cost: Decimal, gpus: [Int], progress: JSONValue?, reason: String?) {
        self.id = id
        self.task = task
        self.attempt = attempt
        self.node = node
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.peakRssBytes = peakRssBytes
        self.cost = cost
        self.gpus = gpus
        self.progress = progress
        self.reason = reason
    }
}

/// One entry of the audit trail.
public struct EventView: Codable, Hashable, Sendable {
    public var at: String
    public var subject: String
    public var from: String?
    public var to: String
    public var reason: String
    public var actor: String
    public init(at: String, subject: String, from: String?, to: String, reason: String, actor: String) {
        (self.at, self.subject, self.from, self.to, self.reason, self.actor) = (at, subject, from, to, reason, actor)
    }
}

/// A registered agent machine.
public struct NodeView: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var state: NodeState
    public var labels: [String: String]
    public var capacity: ResourcesView
    public var allocated: ResourcesView
    public var free: ResourcesView
    public var gpuIndices: [Int]
    public var runningTasks: Int
    public var lastHeartbeat: String
    public var registeredAt: String
    /// When a draining node's remaining tasks are requeued.
    public var drainDeadline: String?
    /// Hourly rates in force on the node.
    public var prices: PriceRates?
    /// `uid`: each attempt runs as a uid of its own; `none`: tasks on the node can read each other's environment and files.
    public var taskIsolation: TaskIsolation?
    public init(id: String, name: String, state: NodeState, labels: [String: String], capacity: ResourcesView, allocated: ResourcesView,
                free: ResourcesView, gpuIndices: [Int], runningTasks: Int, lastHeartbeat: String, registeredAt: String) {
        self.id = id
        self.name = name
        self.state = state
        self.labels = labels
        self.capacity = capacity
        self.allocated = allocated
        self.free = free
        self.gpuIndices = gpuIndices
        self.runningTasks = runningTasks
        self.lastHeartbeat = lastHeartbeat
        self.registeredAt = registeredAt
    }
}
