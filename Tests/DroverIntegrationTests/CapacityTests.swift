import DroverAPI
import DroverClient
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
                "command": .string("sleep 0.4"), "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
            ])).id)
        }
        // when we sample what each team holds while they run,
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
        #expect(samples > 5)
        #expect(peak["ml"] == 4 && peak["vision"] == 6, "peaks: \(peak)")
        for id in jobs { #expect(try await cluster.client.jobSummary(id).state == "succeeded") }
        let pending = try await cluster.client.submit(.object([
            "name": .string("too-big"), "team": .string("ml"), "command": .string("true"), "resources": .object(["cpu": .number(4)])]))
        #expect(pending.state == "queued" || pending.state == "running", "a task as large as the quota is accepted")
        await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("never"), "team": .string("ml"), "command": .string("true"),
                                                         "resources": .object(["cpu": .number(5)])]))
        }
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
        #expect(try await cluster.client.jobs(team: "ml", limit: 200).allSatisfy { $0.state == "succeeded" })
        #expect(samples > 10 && peak == 4, "peak \(peak) over \(samples) samples")
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
        let out = cluster.directory + "/gpus"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
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
