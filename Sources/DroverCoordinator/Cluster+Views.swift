import DroverAPI
import DroverCore
import Foundation

// MARK: - Read models: ClusterState and store rows → wire views

extension Cluster {
    // MARK: - Converters

    static func view(of job: ClusterState.JobRuntime, in state: ClusterState, now: Timestamp) -> JobView {
        let record = job.record
        let spec = record.spec
        let counts = TaskCounts(total: spec.taskCount, queued: job.queued, running: job.running, succeeded: job.succeeded,
                                failed: job.failed, cancelled: job.cancelled)
        var progress: JSONValue?
        if job.running > 0 {
            let running = state.activeAttempts.values.filter { $0.task.job == record.id }
            if let latest = running.max(by: { $0.id < $1.id })?.progress { progress = decodeProgress(latest) }
        }
        var view = JobView(
            id: record.id.description, name: spec.name, team: spec.team, kind: spec.kind, state: record.state,
            priority: spec.priority, tasks: counts, command: spec.command, resources: view(of: spec.resources),
            submittedAt: WireTime.format(milliseconds: record.submittedAt.milliseconds),
            startedAt: record.startedAt.map { WireTime.format(milliseconds: $0.milliseconds) },
            endedAt: record.endedAt.map { WireTime.format(milliseconds: $0.milliseconds) }, submittedBy: record.submittedBy,
            reason: record.reason, pendingReason: job.queued > 0 && !record.state.isTerminal ? pendingReason(job, in: state, now: now) : nil,
            cost: money(job.costMicros), progress: progress)
        view.costWasted = money(job.wastedMicros)
        view.currency = state.currency
        let secrets = spec.secretKeys ?? []
        view.env = spec.environment.reduce(into: [:]) { env, pair in env[pair.key] = secrets.contains(pair.key) ? "***" : pair.value }
        return view
    }

    /// A plain-words reason why queued tasks of `job` are not running.
    static func pendingReason(_ job: ClusterState.JobRuntime, in state: ClusterState, now: Timestamp) -> String {
        let spec = job.record.spec
        let ready = state.nodes.values.filter { $0.record.state == .ready }
        if ready.isEmpty { return state.nodes.isEmpty ? "no agent has registered yet" : "no node is ready (all are down, cordoned or draining)" }
        let matching = ready.filter { node in spec.constraints.allSatisfy { $0.matches(node.record.labels) } }
        if matching.isEmpty { return "constraints \(spec.constraints.map(\.description).joined(separator: ", ")) match no ready node" }
        let fitting = matching.filter { spec.resources.fits(in: $0.record.capacity) }
        if fitting.isEmpty { return "no ready node is large enough for \(spec.resources)" }
        if let refusal = state.quota(of: spec.team).refusal(holding: state.teamUsage[spec.team] ?? TeamUsage(), plus: spec.resources) {
            return refusal
        }
        if let node = state.reservations.first(where: { $0.value == job.record.id })?.key, let name = state.nodes[node]?.record.name {
            return "node \(name) is reserved for this job: it takes no other work until one of its tasks fits there"
        }
        if let budget = state.budgetStatus(of: spec.team, now: now), budget.exhausted {
            return "team budget: \(state.describe(budget)); no new leases until \(budget.resets)"
        }
        if let position = state.pendingJobs.firstIndex(of: job.record.id), position > 0 {
            let ahead = state.pendingJobs[..<position]
            if job.record.nextUnstarted < spec.taskCount || !job.retryQueue.isEmpty {
                let free = fitting.contains { spec.resources.fits(in: $0.free) && spec.resources.gpus <= $0.freeGPUs.count }
                if !free {
                    // Within a team, jobs go by priority then age; between teams, by fair share.
                    var higher = 0, older = 0, others = 0
                    for id in ahead {
                        guard let other = state.jobs[id]?.record.spec else { continue }
                        if other.team != spec.team { others += 1 } else if other.priority > spec.priority { higher += 1 } else { older += 1 }
                    }
                    var parts: [String] = []
                    if higher > 0 { parts.append("\(higher) higher-priority job(s)") }
                    if older > 0 { parts.append("\(older) older job(s) of the same priority") }
                    var reason = "waiting for free capacity"
                    if !parts.isEmpty { reason += "; behind " + parts.joined(separator: " and ") + " of team \(spec.team)" }
                    if others > 0 { reason += "; \(others) job(s) of other teams share the capacity by fair share" }
                    return reason
                }
            }
        }
        if !job.hasUnstarted, let due = job.retryQueue.compactMap({ job.tasks[$0]?.notBefore }).min() {
            return "retry backoff until \(WireTime.format(milliseconds: due.milliseconds))"
        }
        let best = fitting.max { $0.free.millicores < $1.free.millicores }!
        return "waiting for free capacity (most free: \(best.free) on \(best.record.name))"
    }

    static func view(of attempt: AttemptRecord, nodeName: String) -> AttemptView {
        AttemptView(
            id: attempt.id.description, task: attempt.task.index, attempt: attempt.number, node: nodeName, outcome: attempt.state,
            exitCode: attempt.exitCode, signal: attempt.signal, startedAt: WireTime.format(milliseconds: attempt.startedAt.milliseconds),
            endedAt: attempt.endedAt.map { WireTime.format(milliseconds: $0.milliseconds) }, peakRssBytes: attempt.peakRSSBytes,
            cost: money(attempt.costMicros ?? 0), gpus: attempt.gpuIndices, progress: attempt.progress.flatMap(decodeProgress), reason: attempt.reason)
    }

    static func view(of event: Event) -> EventView {
        EventView(at: WireTime.format(milliseconds: event.at.milliseconds), subject: event.subject, from: event.from, to: event.to,
                  reason: event.reason, actor: event.actor)
    }

    static func view(of node: ClusterState.NodeRuntime) -> NodeView {
        var view = NodeView(
            id: node.record.id.description, name: node.record.name, state: node.record.state, labels: node.record.labels,
            capacity: view(of: node.record.capacity), allocated: view(of: node.allocated), free: view(of: node.free),
            gpuIndices: node.record.gpuIndices, runningTasks: node.active.count,
            lastHeartbeat: WireTime.format(milliseconds: node.lastSeen.milliseconds),
            registeredAt: WireTime.format(milliseconds: node.record.registeredAt.milliseconds))
        view.drainDeadline = node.record.drainDeadline.map { WireTime.format(milliseconds: $0.milliseconds) }
        view.prices = Self.view(of: node.record.prices)
        view.taskIsolation = node.record.taskIsolation
        return view
    }

    static func view(of resources: Resources) -> ResourcesView {
        ResourcesView(cpu: Double(resources.millicores) / 1000, memory: resources.memoryBytes, gpu: resources.gpus)
    }

    static func money(_ micros: Int64) -> Decimal { Money.decimal(micros) }

    static func decodeProgress(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
