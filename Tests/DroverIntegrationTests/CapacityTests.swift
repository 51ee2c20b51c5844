import DroverAPI
import DroverClient
import DroverCore
import DroverTesting
import Foundation
import Testing

/// Quotas, fair share and GPUs with real agents.
@Suite(.serialized)
struct CapacityTests {
    @Test func twoTeamsNeverExceedTheirQuotasAndShareTheRest() async throws {
        let cluster = try await TestCluster.start(agents: 3, cpu: 4)
        defer { cluster.stopNow() }
        // Given quotas of 4 and 6 cores on 12 cores in all, and more work than either may run,
        _ = try await cluster.client.setQuota(team: "ml", .object(["cpu": .number(4)]))
        _ = try await cluster.client.setQuota(team: "vision", .object(["cpu": .number(6)]))
        var jobs: [String] = []
        for team in ["ml", "vision"] {
            jobs.append(try await cluster.client.submit(.object([
                "name": .string("busy"), "team": .string(team), "kind": .string("batch"), "tasks": .number(24),
                "command": .string("sleep 0.8"), "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
            ])).id)
        }
        // when we sample what each team holds while they run (six rounds of tasks for ml, four
        // for vision: time for many samples, however slowly a loaded machine answers),
        var peak: [String: Double] = [:]
        var samples = 0
        while true {
            let first = try await cluster.client.jobSummary(jobs[0]), second = try await cluster.client.jobSummary(jobs[1])
            if first.isFinished && second.isFinished { break }
            for view in try await cluster.client.quotas() {
                #expect(view.inUse.cpu <= view.limit.cpu!, "\(view.team) holds \(view.inUse.cpu) of \(view.limit.cpu!)")
                peak[view.team] = max(peak[view.team] ?? 0, view.inUse.cpu)
            }
            samples += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        // then neither ever went over, both reached their quota, and both finished.
        #expect(peak["ml"] == 4 && peak["vision"] == 6, "peaks: \(peak)")
        for id in jobs { #expect(try await cluster.client.jobSummary(id).state == .succeeded) }
        let pending = try await cluster.client.submit(.object([
            "name": .string("too-big"), "team": .string("ml"), "command": .string("true"), "resources": .object(["cpu": .number(4)])]))
        #expect(pending.state == .queued || pending.state == .running, "a task as large as the quota is accepted")
        await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("never"), "team": .string("ml"), "command": .string("true"),
                                                         "resources": .object(["cpu": .number(5)])]))
        }
    }

    @Test(arguments: ["pack", "spread"])
    func placementPacksOrSpreadsAsConfigured(strategy: String) async throws {
        let cluster = try await TestCluster.start(agents: 3, cpu: 4, coordinatorArguments: ["--placement", strategy])
        defer { cluster.stopNow() }
        // Given three 4-core agents waiting for work, one of them running a 1-core task,
        func submit(_ name: String, tasks: Int) async throws -> String {
            try await cluster.client.submit(.object([
                "name": .string(name), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(Double(tasks)),
                // Long enough to run until the test cancels it, however loaded the machine.
                "command": .string("sleep 120"), "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
            ])).id
        }
        let first = try await submit("first", tasks: 1)
        try await cluster.waitUntil("the first task running", timeout: .seconds(20)) {
            try await cluster.client.jobSummary(first).tasks.running == 1
        }
        try await Task.sleep(for: .milliseconds(300)) // every agent back in its long poll
        // when a job of two 1-core tasks arrives (and every agent is woken),
        let second = try await submit("second", tasks: 2)
        try await cluster.waitUntil("both tasks running", timeout: .seconds(20)) {
            try await cluster.client.jobSummary(second).tasks.running == 2
        }
        let perNode = try await cluster.client.nodes().map(\.runningTasks).sorted(by: >)
        // then pack adds them to the partly used node, keeping two nodes whole; spread uses the empty ones.
        if strategy == "pack" {
            #expect(perNode == [3, 0, 0], "\(perNode)")
        } else {
            #expect(perNode == [1, 1, 1], "\(perNode)")
        }
        for job in [first, second] { _ = try await cluster.client.cancel(job) }
    }

    @Test func cordonKeepsWorkOffANodeAndDrainRequeuesAtItsDeadlineWithoutAFailure() async throws {
        let cluster = try await TestCluster.start(agents: 2, cpu: 4)
        defer { cluster.stopNow() }
        let nodes = try await cluster.client.nodes().sorted { $0.name < $1.name }
        let (a, b) = (nodes[0], nodes[1])
        func submit(_ name: String, tasks: Int, _ command: String) async throws -> String {
            try await cluster.client.submit(.object([
                "name": .string(name), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(Double(tasks)),
                "command": .string(command), "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
            ])).id
        }
        func state(of node: NodeView) async throws -> NodeState? { try await cluster.client.nodes().first { $0.id == node.id }?.state }
        func cli(_ arguments: [String]) async throws -> String {
            let result = try await cluster.drover(arguments)
            #expect(result.status == 0, "drover \(arguments.joined(separator: " ")): \(result.stdout)")
            return result.stdout
        }

        // A cordoned node takes no new work: eight quick tasks all run on the other one.
        _ = try await cli(["node", "cordon", a.id])
        #expect(try await state(of: a) == .cordoned)
        let quick = try await submit("quick", tasks: 8, "sleep 0.1")
        try await cluster.waitUntil("the quick job finished", timeout: .seconds(30)) { try await cluster.client.jobSummary(quick).isFinished }
        #expect(try await cluster.client.job(quick).attempts?.map(\.node) == Array(repeating: b.name, count: 8))
        _ = try await cli(["node", "uncordon", a.id])
        #expect(try await state(of: a) == .ready)

        // Two long tasks on node a (b cordoned meanwhile); then a is drained with a 1-second deadline.
        _ = try await cli(["node", "cordon", b.id])
        let long = try await submit("long", tasks: 2, "sleep 60")
        try await cluster.waitUntil("both long tasks running on a", timeout: .seconds(20)) { try await cluster.client.jobSummary(long).tasks.running == 2 }
        _ = try await cli(["node", "uncordon", b.id])
        let drained = try await cli(["node", "drain", a.id, "--deadline", "1s"])
        #expect(drained.contains("draining") && drained.contains("requeueing what still runs at"), "\(drained)")
        // A draining node takes no new work either,
        let during = try await submit("during", tasks: 1, "true")
        try await cluster.waitUntil("the job submitted during the drain finished", timeout: .seconds(20)) {
            try await cluster.client.jobSummary(during).isFinished
        }
        #expect(try await cluster.client.job(during).attempts?.map(\.node) == [b.name])
        // and at the deadline what still runs on it is requeued as preempted, not failed, and runs on b.
        try await cluster.waitUntil("the long tasks requeued and running on b", timeout: .seconds(20)) {
            let attempts = try await cluster.client.job(long).attempts ?? []
            return attempts.filter { $0.node == b.name && $0.outcome == .running }.count == 2
        }
        let view = try await cluster.client.job(long)
        let onA = view.attempts?.filter { $0.node == a.name } ?? []
        #expect(onA.count == 2 && onA.allSatisfy { $0.outcome == .preempted }, "\(onA.map(\.outcome))")
        #expect(view.tasks.failed == 0 && view.state == .running)
        #expect(try await state(of: a) == .draining)
        #expect(try await cluster.client.nodes().first { $0.id == a.id }?.runningTasks == 0)
        _ = try await cluster.client.cancel(long)
        _ = try await cli(["node", "uncordon", a.id])
        #expect(try await state(of: a) == .ready)
    }

    @Test func aHundredClientsSubmittingAtTheBoundaryNeverPushATeamOverItsQuota() async throws {
        let cluster = try await TestCluster.start(agents: 3, cpu: 4)
        defer { cluster.stopNow() }
        // Given team ml limited to 4 cores on 12,
        _ = try await cluster.client.setQuota(team: "ml", .object(["cpu": .number(4)]))
        // when 100 clients each submit a one-core job at the same moment while we sample its use,
        let sampling = Task {
            var peak = 0.0, samples = 0
            while !Task.isCancelled {
                if let view = try? await cluster.client.quotas().first(where: { $0.team == "ml" }) {
                    #expect(view.inUse.cpu <= 4, "ml holds \(view.inUse.cpu) cores")
                    peak = max(peak, view.inUse.cpu)
                    samples += 1
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return (peak, samples)
        }
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let client = try DroverClient(baseURL: cluster.url, token: cluster.adminToken, caCertificate: nil)
                    return try await client.submit(.object([
                        "name": .string("c\(index)"), "team": .string("ml"), "command": .string("sleep 0.1"),
                        "resources": .object(["cpu": .number(1), "memory": .string("32MiB")]),
                    ])).id
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 100)
        try await cluster.waitUntil("all 100 jobs finished", timeout: .seconds(60)) {
            try await cluster.client.jobs(team: "ml", limit: 200).allSatisfy(\.isFinished)
        }
        sampling.cancel()
        let (peak, samples) = await sampling.value
        // then all of them ran, the team reached its quota, and never went over it.
        #expect(try await cluster.client.jobs(team: "ml", limit: 200).allSatisfy { $0.state == .succeeded })
        #expect(peak == 4, "peak \(peak) over \(samples) samples")
    }

    @Test func gpuTasksSeeOnlyTheirGPUs() async throws {
        // Agents find GPUs with a fake nvidia-smi that prints what a real 2×H200 machine prints.
        let cluster = try TestCluster()
        defer { cluster.stopNow() }
        let fake = cluster.directory + "/nvidia-smi"
        try """
            #!/bin/sh
            echo "0, NVIDIA H200, 143771 MiB"
            echo "1, NVIDIA H200, 143771 MiB"
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        try await cluster.startCoordinator()
        try cluster.startAgent(name: "gpu-box", arguments: ["--cpu", "8", "--memory", "16GiB", "--nvidia-smi", fake])
        try await cluster.waitUntil("agent registered", timeout: .seconds(15)) { (try? await cluster.client.nodes().count) == 1 }
        let node = try #require(try await cluster.client.nodes().first)
        #expect(node.capacity.gpu == 2 && node.gpuIndices == [0, 1] && node.labels["gpu.model"] == "NVIDIA H200")
        let out = try cluster.sharedDirectory("gpus")
        let job = try await cluster.client.submit(.object([
            "name": .string("gpu"), "team": .string("research"), "kind": .string("batch"), "tasks": .number(4),
            "resources": .object(["gpu": .number(1), "cpu": .number(1)]),
            "command": .string("echo \"$CUDA_VISIBLE_DEVICES $DROVER_GPU_IDS\" > \(out)/$DROVER_TASK_INDEX; sleep 0.3"),
        ]))
        #expect(try await cluster.drover(["wait", job.id]).status == 0)
        let attempts = try await cluster.client.job(job.id).attempts ?? []
        #expect(attempts.count == 4 && attempts.allSatisfy { $0.gpus.count == 1 })
        for shard in 0..<4 {
            let seen = try String(contentsOfFile: "\(out)/\(shard)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let gpu = attempts.first { $0.task == shard }!.gpus[0]
            #expect(seen == "\(gpu) \(gpu)", "shard \(shard) saw '\(seen)'")
        }
        // No two attempts that overlapped in time held the same GPU.
        for a in attempts { for b in attempts where a.id < b.id && a.gpus == b.gpus {
            #expect(a.endedAt! <= b.startedAt || b.endedAt! <= a.startedAt, "attempts \(a.id) and \(b.id) shared GPU \(a.gpus)")
        } }
    }
}
