import DroverCore
import DroverTesting
import Testing

/// Random walks through the state machine. After every step the books must balance:
/// no node holds more than its capacity, no GPU is given to two running attempts, and
/// each job's counts agree with its task rows and sum to its task count.
@Suite struct ClusterStatePropertyTests {
    @Test func invariantsHoldOverRandomWalks() throws {
        var seen: [String: Int] = [:]
        for seed in UInt64(1)...100 {
            var walk = RandomWalk(seed: seed)
            for step in 0..<200 {
                walk.step()
                let problems = walk.harness.state.invariantViolations()
                try #require(problems.isEmpty, "seed \(seed), step \(step): \(problems.joined(separator: "; "))")
            }
            seen["handoff", default: 0] += walk.handoffs
            for m in walk.harness.mutations {
                if let a = m.attempt, a.state != .running { seen[a.state.rawValue, default: 0] += 1 }
                if let a = m.attempt, a.state == .running, !a.gpuIndices.isEmpty { seen["gpu lease", default: 0] += 1 }
                if let j = m.job, j.state.isTerminal { seen["job " + j.state.rawValue, default: 0] += 1 }
                if let n = m.node, n.state == .down { seen["node down", default: 0] += 1 }
            }
        }
        // The walks must actually reach every kind of ending, or they prove little.
        for kind in ["succeeded", "failed", "timed_out", "lost", "preempted", "cancelled", "gpu lease",
                     "job succeeded", "job failed", "job cancelled", "node down", "handoff"] {
            #expect(seen[kind, default: 0] > 10, "the random walks never produced '\(kind)'")
        }
    }
}

struct RandomWalk {
    var harness: Harness
    var rng: SplitMix64
    var nodes: [NodeID] = []
    /// Work passed from the polling node to a better waiting one.
    var handoffs = 0

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed &* 7919)
        let placement: PlacementStrategy = Bool.random(using: &rng) ? .pack : .spread
        let reserveAfter: Int64? = Bool.random(using: &rng) ? 6_000 : nil
        harness = Harness(seed: seed, policy: ClusterPolicy(reserveAfterMilliseconds: reserveAfter, placement: placement))
        for name in ["cpu-a", "cpu-b", "gpu-a"] { register(name) }
    }

    mutating func register(_ name: String) {
        let gpus = name.hasPrefix("gpu") ? Array([3, 1, 0, 2].prefix(Int.random(in: 1...4, using: &rng))) : []
        let zone = Bool.random(using: &rng) ? "eu" : "us"
        let id = harness.register(name, cpu: Int64.random(in: 2...8, using: &rng) * 1000, memory: Int64.random(in: 4...16, using: &rng) * GiB,
                                  gpus: gpus, labels: ["zone": zone], prices: Prices(cpuHourMicros: 48_000, gpuHourMicros: 2_000_000))
        if !nodes.contains(id) { nodes.append(id) }
    }

    mutating func step() {
        harness.advance(Int64.random(in: 0...3000, using: &rng))
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<12: submit()
        case 12..<40:
            // Some nodes wait in a long poll, so that leases pass work to better homes.
            for node in nodes where Int.random(in: 0..<3, using: &rng) == 0 { harness.state.noteWaiting(node) }
            _ = harness.lease(nodes.randomElement(using: &rng)!, limit: Int.random(in: 1...6, using: &rng))
            let handoffs = harness.takeHandoffs()
            self.handoffs += handoffs.count
            for node in handoffs { _ = harness.lease(node, limit: Int.random(in: 1...6, using: &rng)) }
        case 40..<75: reportRandomAttempt()
        case 75..<83:
            for node in nodes where Int.random(in: 0..<4, using: &rng) > 0 { harness.state.touch(node: node, now: harness.now) }
        case 83..<88: _ = harness.expire(ttl: 10_000)
        case 88..<92:
            if let job = harness.state.jobs.keys.randomElement(using: &rng) { try? harness.cancel(job) }
        case 92..<94: register(["cpu-a", "cpu-b", "gpu-a"].randomElement(using: &rng)!)
        case 94:
            // An agent stops gracefully; a later registration under its name brings it back.
            if let node = nodes.randomElement(using: &rng) { harness.mutations += harness.state.leave(node: node, now: harness.now, random: &harness.random).mutations }
        default:
            let state = [NodeState.ready, .cordoned, .draining].randomElement(using: &rng)!
            if let node = nodes.randomElement(using: &rng), let m = try? harness.state.setNodeState(node, to: state, by: "admin", now: harness.now) {
                harness.mutations += m.mutations
            }
        }
    }

    mutating func submit() {
        let batch = Bool.random(using: &rng)
        let retry = RetryPolicy(
            maxAttempts: Int.random(in: 1...3, using: &rng), maxLostAttempts: Int.random(in: 0...2, using: &rng),
            backoff: .init(initialMilliseconds: 500, multiplier: 2, maxMilliseconds: 4000, jitter: 0.5),
            nonRetryableExitCodes: [2])
        var spec = makeSpec(
            kind: batch ? .batch : .training, tasks: batch ? Int.random(in: 1...25, using: &rng) : 1,
            cpu: Int64.random(in: 1...8, using: &rng) * 250, memory: Int64.random(in: 1...8, using: &rng) * 256 * MiB,
            gpus: Int.random(in: 0..<5, using: &rng) == 0 ? Int.random(in: 1...2, using: &rng) : 0,
            priority: Int.random(in: -2...2, using: &rng),
            constraints: Int.random(in: 0..<6, using: &rng) == 0 ? ["zone=eu"] : [],
            retry: retry, maxFailedTasks: Int.random(in: 0...2, using: &rng))
        if Bool.random(using: &rng) { spec.timeoutMilliseconds = Int64.random(in: 1...20, using: &rng) * 1000 }
        _ = try? harness.submit(spec)
    }

    mutating func reportRandomAttempt() {
        guard let attempt = harness.state.activeAttempts.keys.sorted().randomElement(using: &rng) else { return }
        let (outcome, code): (AttemptState, Int32?) = switch Int.random(in: 0..<10, using: &rng) {
        case 0..<5: (.succeeded, 0)
        case 5..<7: (.failed, 1)
        case 7: (.failed, 2)
        case 8: (.timedOut, nil)
        default: (Bool.random(using: &rng) ? .preempted : .cancelled, nil)
        }
        let result = harness.report(attempt, outcome, exitCode: code)
        precondition(result.isAccepted, "a report of an active attempt by its node is accepted")
        precondition(harness.report(attempt, outcome, exitCode: code).isNotActive, "a second report is refused")
    }
}

extension ClusterState {
    /// Every broken invariant, described; empty when the state is consistent.
    func invariantViolations() -> [String] {
        var problems: [String] = []
        for (id, node) in nodes {
            let held = node.active.compactMap { activeAttempts[$0] }
            if held.count != node.active.count { problems.append("\(id) lists attempts that are not active") }
            let sum = held.reduce(Resources.zero) { $0 + $1.allocation }
            if sum != node.allocated { problems.append("\(id) allocated \(node.allocated) but its attempts hold \(sum)") }
            if !node.allocated.fits(in: node.record.capacity) { problems.append("\(id) over capacity: \(node.allocated) of \(node.record.capacity)") }
            let used = held.flatMap(\.gpuIndices)
            if Set(used).count != used.count { problems.append("\(id) gave a GPU to two attempts: \(used)") }
            if !Set(used).isDisjoint(with: node.freeGPUs) { problems.append("\(id) lists a used GPU as free") }
            if Set(used).union(node.freeGPUs) != Set(node.record.gpuIndices) || used.count + node.freeGPUs.count != node.record.gpuIndices.count {
                problems.append("\(id) GPUs used \(used) + free \(node.freeGPUs) ≠ \(node.record.gpuIndices)")
            }
            if node.record.state == .down && !node.active.isEmpty { problems.append("down node \(id) holds attempts") }
        }
        for (id, attempt) in activeAttempts {
            if nodes[attempt.node]?.active.contains(id) != true { problems.append("attempt \(id) not held by its node") }
            let task = jobs[attempt.task.job]?.tasks[attempt.task.index]
            if task?.state != .running || task?.currentAttempt != id { problems.append("attempt \(id) is not its task's running attempt") }
        }
        var runningByJob: [JobID: Int] = [:]
        for attempt in activeAttempts.values { runningByJob[attempt.task.job, default: 0] += 1 }
        for (id, job) in jobs {
            let spec = job.record.spec
            let rows = job.tasks.values
            if !ClusterState.JobRuntime.holdsTaskRows(state: job.record.state, running: job.running) {
                // A finished job with nothing running keeps no rows; its counts must still add up.
                if !rows.isEmpty || !job.retryQueue.isEmpty { problems.append("finished job \(id) still holds task rows") }
                if job.queued != 0 || pendingJobs.contains(id) { problems.append("finished job \(id) still has queued work") }
                continue
            }
            func count(_ state: TaskState) -> Int { rows.filter { $0.state == state }.count }
            let parts = [job.queued, job.running, job.succeeded, job.failed, job.cancelled]
            if parts.contains(where: { $0 < 0 }) || parts.reduce(0, +) != spec.taskCount { problems.append("job \(id) counts \(parts) vs \(spec.taskCount)") }
            if job.running != count(.running) || job.succeeded != count(.succeeded) || job.failed != count(.failed) {
                problems.append("job \(id) counts disagree with its rows")
            }
            let activeOfJob = runningByJob[id] ?? 0
            if activeOfJob != job.running { problems.append("job \(id) running \(job.running) but \(activeOfJob) active attempts") }
            if job.record.state.isTerminal {
                if job.queued != 0 || count(.queued) != 0 { problems.append("finished job \(id) still has queued work") }
                if job.cancelled != count(.cancelled) + spec.taskCount - rows.count { problems.append("finished job \(id) cancelled count off") }
                if pendingJobs.contains(id) { problems.append("finished job \(id) still pending") }
            } else {
                if job.queued != count(.queued) + spec.taskCount - job.record.nextUnstarted { problems.append("job \(id) queued count off") }
                if job.retryQueue.sorted() != rows.filter({ $0.state == .queued }).map(\.ref.index).sorted() { problems.append("job \(id) retry queue off") }
                if job.hasPendingWork != pendingJobs.contains(id) { problems.append("job \(id) pending list off") }
                if job.running + job.queued == 0 { problems.append("job \(id) has nothing left but is \(job.record.state)") }
                if job.record.state != ClusterState.JobRuntime.liveState(running: job.running) {
                    problems.append("job \(id) is \(job.record.state) with \(job.running) running and \(job.queued) queued")
                }
            }
        }
        return problems
    }
}
