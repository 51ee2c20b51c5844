import DroverCore
import Synchronization

/// A store that keeps everything in memory: for tests and `drover demo --ephemeral`.
public final class InMemoryStore: Store {
    private struct Contents {
        var jobs: [JobID: JobRecord] = [:]
        var tasks: [TaskRef: TaskRecord] = [:]
        var attempts: [AttemptID: AttemptRecord] = [:]
        var nodes: [NodeID: NodeRecord] = [:]
        var events: [Event] = []
        var logs: [AttemptID: [UInt8]] = [:]
        var tokens: [String: TokenRecord] = [:]
        var quotas: [String: Quota] = [:]
    }

    private let contents = Mutex(Contents())

    public init() {}

    public func apply(_ mutations: [Mutation]) async throws {
        contents.withLock { c in
            for mutation in mutations {
                switch mutation {
                case .putJob(let job): c.jobs[job.id] = job
                case .putTask(let task): c.tasks[task.ref] = task
                case .putAttempt(let attempt): c.attempts[attempt.id] = attempt
                case .putNode(let node): c.nodes[node.id] = node
                case .appendEvent(let event): c.events.append(event)
                case .putToken(let token): c.tokens[token.id] = token
                case .putQuota(let team, let quota): c.quotas[team] = quota
                case .appendLog(let attempt, let offset, let data):
                    var log = c.logs[attempt] ?? []
                    // Chunks carry their offset; a resent chunk overwrites what it covers.
                    if Int(offset) <= log.count {
                        log.replaceSubrange(Int(offset)..<min(log.count, Int(offset) + data.count), with: data)
                        c.logs[attempt] = log
                    }
                }
            }
        }
    }

    public func load() async throws -> StoredState {
        contents.withLock { c in
            var state = StoredState(
                jobs: c.jobs.values.sorted { $0.id < $1.id },
                tasks: Array(c.tasks.values),
                activeAttempts: c.attempts.values.filter { $0.state == .running }.sorted { $0.id < $1.id },
                nodes: c.nodes.values.sorted { $0.id < $1.id },
                jobCosts: c.attempts.values.reduce(into: [:]) { $0[$1.task.job, default: 0] += $1.costMicros ?? 0 },
                lastAttemptID: c.attempts.keys.map(\.rawValue).max() ?? 0)
            state.tokens = c.tokens.values.sorted { $0.id < $1.id }
            state.quotas = c.quotas
            return state
        }
    }

    public func attempts(of job: JobID) async throws -> [AttemptRecord] {
        contents.withLock { $0.attempts.values.filter { $0.task.job == job }.sorted { $0.id < $1.id } }
    }

    public func attempts(of task: TaskRef) async throws -> [AttemptRecord] {
        contents.withLock { $0.attempts.values.filter { $0.task == task }.sorted { $0.id < $1.id } }
    }

    public func attempt(_ id: AttemptID) async throws -> AttemptRecord? {
        contents.withLock { $0.attempts[id] }
    }

    public func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int) {
        contents.withLock { c in
            let all = c.events.filter { $0.job == job }
            return (Array(all.suffix(limit)), all.count)
        }
    }

    public func nodeEvents(limit: Int) async throws -> [Event] {
        contents.withLock { Array($0.events.filter { $0.subject.hasPrefix("node/") }.suffix(limit)) }
    }

    public func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8] {
        contents.withLock { c in
            let log = c.logs[attempt] ?? []
            guard offset < log.count else { return [] }
            return Array(log[Int(offset)..<min(log.count, Int(offset) + maxBytes)])
        }
    }
}
