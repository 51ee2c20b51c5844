/// A validated job as the user asked for it. Built by `JobSpecParser` in DroverAPI;
/// every value here is already known to be in range.
public struct JobSpec: Hashable, Sendable, Codable {
    public var name: String
    public var team: String
    public var kind: JobKind
    /// Number of shards; 1 for training jobs.
    public var taskCount: Int
    /// argv of the task process; a shell string is stored as `["/bin/sh", "-c", text]`.
    public var command: [String]
    public var environment: [String: String]
    /// Names of environment variables whose values are secrets: never shown by the API, the
    /// CLI or events, and masked in the task's shipped output.
    public var secretKeys: Set<String>?
    /// Resources of each task.
    public var resources: Resources
    public var priority: Int
    public var constraints: [Constraint]
    public var retry: RetryPolicy
    /// Wall-clock limit of one attempt, in milliseconds.
    public var timeoutMilliseconds: Int64?
    /// How long one attempt is expected to run, for cost estimates; `timeoutMilliseconds` when nil.
    public var expectedDurationMilliseconds: Int64?
    /// How many tasks may fail for good before the job is failed and the rest cancelled.
    public var maxFailedTasks: Int
    /// Fails the job when its attempts keep failing the same way fast; nil disables it.
    public var circuitBreaker: CircuitBreaker?

    public init(
        name: String, team: String, kind: JobKind = .training, taskCount: Int = 1, command: [String],
        environment: [String: String] = [:], resources: Resources = JobSpec.defaultResources, priority: Int = 0,
        constraints: [Constraint] = [], retry: RetryPolicy = RetryPolicy(), timeoutMilliseconds: Int64? = nil,
        maxFailedTasks: Int = 0, circuitBreaker: CircuitBreaker? = CircuitBreaker()
    ) {
        self.name = name
        self.team = team
        self.kind = kind
        self.taskCount = taskCount
        self.command = command
        self.environment = environment
        self.resources = resources
        self.priority = priority
        self.constraints = constraints
        self.retry = retry
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxFailedTasks = maxFailedTasks
        self.circuitBreaker = circuitBreaker
    }

    /// One core and 512 MiB unless the spec says otherwise.
    public static let defaultResources = Resources(millicores: 1000, memoryBytes: 512 << 20, gpus: 0)
    /// Upper bound on shards per job.
    public static let maxTaskCount = 10_000_000
}
