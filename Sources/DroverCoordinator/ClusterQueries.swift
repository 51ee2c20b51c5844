import DroverAPI
import DroverCore
import DroverStore
import Foundation

/// Every read the API makes, in one place: routes ask here and never take the scheduler's
/// lock or read the store themselves.
///
/// Each query holds the lock only to copy out what its answer needs from live state; lists
/// page through the store (newest first, by id), and history (attempts, events, logs, the
/// ledger) comes from the store. Views are built by the converters in `Cluster+Views.swift`.
struct ClusterQueries: Sendable {
    let cluster: Cluster

    private var clock: any WallClock { cluster.clock }

    /// Reads the store (also for the few changes that consult it). A read that fails is the store being unavailable (503 with
    /// `Retry-After`), not a fault of the request: logged, and said so.
    func fromStore<T>(_ read: (any Store) async throws -> T) async throws -> T {
        do {
            return try await read(cluster.store)
        } catch let error as StoreUnavailable {
            throw error
        } catch {
            cluster.logger.error("store read failed", metadata: ["error": "\(error)"])
            throw StoreUnavailable(cause: "a read failed: \(error)", retryAfterSeconds: 1)
        }
    }

    private func read<T>(_ body: (borrowing ClusterState) -> T) -> T {
        cluster.state.withLock { state in body(state) }
    }

    // MARK: - Jobs

    /// Jobs matching the filters, newest first, below `before` (the last id of the previous page).
    func jobs(team: String?, state jobState: JobState?, before: JobID?, limit: Int) async throws -> [JobView] {
        let ids = try await fromStore { try await $0.jobIDs(team: team, state: jobState, before: before, limit: limit) }
        let now = clock.now()
        return read { state in
            // A change that is not yet durable may have moved a job out of the filter: memory is newer.
            ids.compactMap { id -> JobView? in
                guard let job = state.jobs[id], jobState == nil || job.record.state == jobState else { return nil }
                return Cluster.view(of: job, in: state, now: now)
            }
        }
    }

    /// One job; with its attempts and latest `eventLimit` events when asked.
    func job(_ id: JobID, withAttempts: Bool, eventLimit: Int) async throws -> JobView {
        let now = clock.now()
        guard var view = read({ state in state.jobs[id].map { Cluster.view(of: $0, in: state, now: now) } }) else {
            throw APIError.notFound("job \(id) does not exist")
        }
        if withAttempts {
            let (active, names) = read { state in
                (state.activeAttempts.filter { $0.value.task.job == id }, state.nodes.mapValues(\.record.name))
            }
            let attempts = try await fromStore { try await $0.attempts(of: id) }.map { active[$0.id] ?? $0 }
            view.attempts = attempts.map { Cluster.view(of: $0, nodeName: names[$0.node] ?? $0.node.description) }
        }
        if eventLimit > 0 {
            let (events, total) = try await fromStore { try await $0.events(of: id, limit: eventLimit) }
            view.events = events.map(Cluster.view(of:))
            view.eventsTotal = total
        }
        return view
    }

    /// The team a job belongs to, if the job exists.
    func team(of job: JobID) -> String? {
        read { $0.jobs[job]?.record.spec.team }
    }

    /// What `GET /v1/jobs/{id}/logs` needs of one task: its attempts, and whether it is finished.
    struct TaskLogs: Sendable {
        var attempts: [AttemptRecord]
        var taskFinished: Bool
    }

    /// The attempts of task `index` of `job`; errors name the job's task range.
    func taskLogs(of job: JobID, task index: Int) async throws -> TaskLogs {
        let found = read { state -> (taskCount: Int, finished: Bool)? in
            guard let runtime = state.jobs[job] else { return nil }
            // A finished job's rows are only in the store: its tasks are finished too.
            return (runtime.record.spec.taskCount, runtime.tasks[index]?.state.isTerminal ?? runtime.record.state.isTerminal)
        }
        guard let found else { throw APIError.notFound("job \(job) does not exist") }
        guard index < found.taskCount else {
            throw APIError.badRequest("job \(job) has tasks 0...\(found.taskCount - 1)", field: "task")
        }
        return TaskLogs(attempts: try await fromStore { try await $0.attempts(of: TaskRef(job: job, index: index)) }, taskFinished: found.finished)
    }

    /// Up to 1 MiB of an attempt's output from `offset`, and whether the attempt still runs.
    func log(of attempt: AttemptID, from offset: Int64) async throws -> (bytes: [UInt8], running: Bool) {
        let bytes = try await fromStore { try await $0.log(of: attempt, from: offset, maxBytes: 1 << 20) }
        return (bytes, read { $0.activeAttempts[attempt] != nil })
    }

    // MARK: - Nodes

    func nodes() -> [NodeView] {
        read { state in state.nodes.values.sorted { $0.record.id < $1.record.id }.map(Cluster.view(of:)) }
    }

    func node(_ id: NodeID) throws -> NodeView {
        guard let view = read({ $0.nodes[id].map(Cluster.view(of:)) }) else { throw APIError.notFound(ClusterError.nodeNotFound(id.description).description) }
        return view
    }

    /// Finds a node by id (`n3`, `3`) or name.
    func resolveNode(_ text: String) throws -> NodeID {
        let found = read { state -> NodeID? in
            if let id = NodeID(text), state.nodes[id] != nil { return id }
            return state.nodes.values.first { $0.record.name == text }?.record.id
        }
        guard let found else { throw APIError.notFound(ClusterError.nodeNotFound(text).description) }
        return found
    }

    // MARK: - Credentials

    /// Who presents the secret whose SHA-256 is `hash` (an agent or a stored token), if anyone.
    func principal(tokenHash hash: String) -> Principal? {
        read { state in
            // Looked up by the hash of the presented secret: equal hashes mean equal secrets,
            // and the lookup reveals nothing about a near miss.
            if let node = state.nodeIDsByTokenHash[hash] { return .agent(node) }
            guard let stored = state.token(hash: hash) else { return nil }
            switch stored.role {
            case .admin: return .admin(tokenID: stored.id)
            case .join: return .joiner
            case .submitter, .reader: return .team(stored.team ?? "", stored.role, tokenID: stored.id)
            }
        }
    }

    /// The stored token with this hash if it was revoked (revoked tokens are kept, with
    /// `revokedAt`), so that its holder hears "revoked", not "unknown".
    func revokedToken(hash: String) -> TokenRecord? {
        read { state in state.tokens[hash].flatMap { $0.revokedAt == nil ? nil : $0 } }
    }

    /// Stored API tokens, oldest first.
    func tokens() -> [TokenRecord] {
        read { Array($0.tokens.values) }.sorted { $0.createdAt < $1.createdAt }
    }

    func token(id: String) -> TokenRecord? {
        read { $0.tokens.values.first { $0.id == id } }
    }

    // MARK: - Quotas

    /// Limit, use and queued demand of every team with a quota or with jobs (or of one team).
    func quotas(team only: String? = nil) -> [QuotaView] {
        let now = clock.now()
        return read { state in
            var teams = Set(state.quotas.keys).union(state.jobs.values.map(\.record.spec.team))
            if let only { teams = [only] }
            return teams.sorted().map { team in
                let quota = state.quota(of: team)
                let usage = state.teamUsage[team] ?? TeamUsage()
                var queued = QuotaAmounts(cpu: 0, memory: 0, gpu: 0, tasks: 0)
                for job in state.jobs.values where job.record.spec.team == team && !job.record.state.isTerminal && job.queued > 0 {
                    let r = job.record.spec.resources
                    queued.tasks += job.queued
                    queued.cpu += Double(r.millicores) / 1000 * Double(job.queued)
                    queued.memory += r.memoryBytes * Int64(job.queued)
                    queued.gpu += r.gpus * job.queued
                }
                var view = QuotaView(
                    team: team,
                    limit: QuotaLimits(cpu: quota.millicores.map { Double($0) / 1000 }, memory: quota.memoryBytes, gpu: quota.gpus, running: quota.runningTasks),
                    weight: quota.weight, isDefault: state.quotas[team] == nil,
                    inUse: QuotaAmounts(cpu: Double(usage.allocated.millicores) / 1000, memory: usage.allocated.memoryBytes, gpu: usage.allocated.gpus,
                                        tasks: usage.running),
                    queued: queued)
                view.budget = state.budgetStatus(of: team, now: now).map { Cluster.view(of: $0, currency: state.currency) }
                return view
            }
        }
    }
}
