import AsyncHTTPClient
import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import NIOCore
import Testing

/// End-to-end tests against real coordinator and agent processes on loopback.
/// Serialized: each starts its own cluster, and 2 cores are better used by one at a time.
@Suite(.serialized)
struct ClusterTests {
    @Test func aSecondAgentOnTheSameWorkDirectoryRefusesToStartAndTheFirstKeepsItsTask() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("long"), "team": .string("ml"), "command": .string("sleep 2; echo done")]))
        try await cluster.waitUntil("the task to run", timeout: .seconds(30)) { try await cluster.client.job(job.id).tasks.running == 1 }
        let second = try await cluster.drover(["agent", "--coordinator", cluster.url, "--join-token", cluster.joinToken, "--name", "intruder",
                                               "--work-dir", cluster.directory + "/agent-1"], timeout: .seconds(30))
        #expect(second.status != 0)
        #expect(second.stderr.contains("in use by another agent"), "\(second.stderr)")
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(wait.stdout)\n\(cluster.diagnostics())")
        #expect(try await cluster.client.nodes().map(\.name) == ["agent-1"], "the second agent never registered")
    }

    @Test func aSubmitWhoseAnswerWasLostIsRetriedWithItsKeyAndMakesExactlyOneJob() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        let port = try #require(Int(cluster.url.split(separator: ":").last!))
        let body = #"{"name":"once","team":"ml","command":["true"]}"#  // what the CLI sends for `-- true`
        func post(key: String) throws -> String {
            try RawHTTP.exchange(port: port, Array(("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(cluster.adminToken)\r\n"
                + "Content-Type: application/json\r\nIdempotency-Key: \(key)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8))
        }
        // Given a submit whose answer the client never read (the connection cut after sending),
        _ = try post(key: "lost-answer-1")
        // the CLI's retry with the same key gets that job, created once;
        let retried = try await cluster.drover(["submit", "--idempotency-key", "lost-answer-1", "--name", "once", "--team", "ml", "--", "true"])
        #expect(retried.status == 0, "\(retried.stderr)")
        let jobs = try await cluster.client.jobs()
        #expect(jobs.count == 1 && retried.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == jobs.first?.id)
        let replay = try post(key: "lost-answer-1")
        #expect(replay.hasPrefix("HTTP/1.1 200") && replay.lowercased().contains("idempotent-replayed: true"), "\(replay)")
        // the key outlives a restart; another spec under it is refused; a new key is a new job.
        await cluster.signalCoordinator(SIGKILL)
        try await cluster.startCoordinator()
        #expect(try post(key: "lost-answer-1").hasPrefix("HTTP/1.1 200"))
        let other = try await cluster.drover(["submit", "--idempotency-key", "lost-answer-1", "--name", "twice", "--team", "ml", "--", "true"])
        #expect(other.status != 0 && other.stderr.contains("different spec"), "\(other.stderr)")
        #expect(try post(key: "lost-answer-2").hasPrefix("HTTP/1.1 201"))
        #expect(try await cluster.client.jobs().count == 2)
        #expect(try post(key: "bad key with spaces").hasPrefix("HTTP/1.1 400"))
    }

    @Test func jobListsPageNewestFirstThroughTheCLI() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        var ids: [String] = []
        for name in ["a", "b", "c"] {
            ids.append(try await cluster.client.submit(.object(["name": .string(name), "team": .string("ml"), "command": .string("true")])).id)
        }
        let first = try await cluster.drover(["jobs", "--limit", "2", "--output", "json"])
        #expect(first.status == 0, "\(first.stdout)")
        let page = try JSONDecoder().decode([JobView].self, from: Data(first.stdout.utf8))
        #expect(page.map(\.name) == ["c", "b"])
        let next = try await cluster.drover(["jobs", "--limit", "2", "--before", page.last!.id, "--output", "json"])
        #expect(try JSONDecoder().decode([JobView].self, from: Data(next.stdout.utf8)).map(\.id) == [ids[0]])
    }

    @Test func batchJobOf50ShardsSucceedsWithEveryShardsLog() async throws {
        let cluster = try await TestCluster.start(agents: 2)
        defer { cluster.stopNow() }

        // Given a 50-shard job submitted with flags, when we wait for it with the CLI,
        let submit = try await cluster.drover(["submit", "--name", "echo-shards", "--team", "ml", "--kind", "batch", "--tasks", "50",
                                               "--cpu", "0.5", "--memory", "64MiB", "--", "sh", "-c", "echo shard $DROVER_TASK_INDEX of $DROVER_TASK_COUNT"])
        #expect(submit.status == 0, "\(submit.stdout)")
        let id = try #require(submit.stdout.split(separator: "\n").last.map(String.init))
        let wait = try await cluster.drover(["wait", id])
        #expect(wait.status == 0, "\(wait.stdout)\n\(cluster.diagnostics())")

        // then every shard succeeded once, on both agents, and its output is readable.
        let job = try await cluster.client.job(id)
        #expect(job.state == .succeeded)
        #expect(job.tasks == TaskCounts(total: 50, queued: 0, running: 0, succeeded: 50, failed: 0, cancelled: 0))
        let attempts = try #require(job.attempts)
        #expect(attempts.count == 50)
        #expect(Set(attempts.map(\.task)) == Set(0..<50))
        #expect(attempts.allSatisfy { $0.outcome == .succeeded && $0.exitCode == 0 })
        for shard in 0..<50 {
            let log = try await cluster.client.logs(job: id, task: shard)
            #expect(String(decoding: log.data, as: UTF8.self) == "shard \(shard) of 50\n")
            #expect(log.attemptFinished)
        }
        let logs = try await cluster.drover(["logs", id, "--task", "7"])
        #expect(logs.status == 0)
        #expect(logs.stdout.contains("shard 7 of 50"))

        // The JSON contract of `job show`.
        let show = try await cluster.drover(["job", "show", id, "--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        for key in ["id", "name", "team", "kind", "state", "tasks", "attempts", "cost", "events"] { #expect(object[key] != nil, "missing \(key)") }
        let first = try #require((object["attempts"] as? [[String: Any]])?.first)
        for key in ["task", "attempt", "node", "outcome", "exitCode", "startedAt", "endedAt", "cost"] { #expect(first[key] != nil, "missing attempts[].\(key)") }
    }

    @Test func trainingProgressIsVisibleWhileItRuns() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        // The last epoch waits (up to a minute) until the test has seen progress, so a loaded
        // machine cannot end the job before its progress is read.
        let drop = try cluster.sharedDirectory("drop")
        let script = """
            for i in 1 2 3 4 5 6 7 8; do
              echo "{\\"progress\\": $(echo "scale=3; $i/8" | bc 2>/dev/null || echo 0.$i), \\"metrics\\": {\\"loss\\": 0.$((9 - i))}}" >> "$DROVER_PROGRESS_FILE"
              echo "epoch $i"; sleep 0.4
            done
            n=0; while [ ! -e "$DROP/seen" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
            """
        let job = try await cluster.client.submit(.object([
            "name": .string("train"), "team": .string("research"), "kind": .string("training"), "command": .string(script),
            "env": .object(["DROP": .string(drop)]),
        ]))
        var seen: JSONValue?
        try await cluster.waitUntil("progress reported while running", timeout: .seconds(60)) {
            let view = try await cluster.client.jobSummary(job.id)
            if view.state == .running, let progress = view.progress { seen = progress }
            return seen != nil || view.isFinished
        }
        FileManager.default.createFile(atPath: drop + "/seen", contents: nil)
        guard case .object(let fields)? = seen, case .object(let metrics)? = fields["metrics"] else {
            Issue.record("no progress seen while running: \(String(describing: seen))")
            return
        }
        #expect(metrics["loss"] != nil)
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0)
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.first?.progress != nil, "the last progress is kept with the attempt")
    }

    @Test func cancelKillsTheWholeProcessTree() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let pids = try cluster.sharedDirectory("pids")
        // A task that forks a grandchild which ignores SIGTERM.
        let job = try await cluster.client.submit(.object([
            "name": .string("stuck"), "team": .string("ml"),
            "command": .string("echo $$ > \(pids)/leader; (trap '' TERM; sleep 300) & echo $! > \(pids)/child; wait"),
        ]))
        try await cluster.waitUntil("both processes started", timeout: .seconds(15)) {
            FileManager.default.fileExists(atPath: pids + "/child") && FileManager.default.fileExists(atPath: pids + "/leader")
        }
        try await Task.sleep(for: .milliseconds(100))
        let leader = try #require(Int32(try String(contentsOfFile: pids + "/leader", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let child = try #require(Int32(try String(contentsOfFile: pids + "/child", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))

        let cancel = try await cluster.drover(["job", "cancel", job.id])
        #expect(cancel.status == 0, "\(cancel.stdout)")
        // kill-grace is 1 s: everything must be gone within about that.
        try await cluster.waitUntil("process tree gone", timeout: .seconds(5)) { processIsGone(leader) && processIsGone(child) }
        try await cluster.waitUntil("attempt reported cancelled", timeout: .seconds(10)) {
            try await cluster.client.job(job.id).attempts?.first?.outcome == .cancelled
        }
        let final = try await cluster.client.job(job.id)
        #expect(final.state == .cancelled)
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status != 0, "wait exits non-zero for a cancelled job")
    }

    @Test func coordinatorKilledMidJobLosesNothing() async throws {
        let cluster = try await TestCluster.start(agents: 2, cpu: 2)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("resilient"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(30),
            "command": .string("sleep 0.3; echo done $DROVER_TASK_INDEX"), "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
        ]))
        try await cluster.waitUntil("some shards done", timeout: .seconds(20)) {
            try await cluster.client.jobSummary(job.id).tasks.succeeded >= 5
        }
        // When the coordinator dies without warning and comes back on the same data,
        await cluster.signalCoordinator(SIGKILL)
        try await Task.sleep(for: .milliseconds(500))
        try await cluster.startCoordinator()

        // then the job completes and every shard has exactly one succeeded attempt.
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(wait.stdout)\n\(cluster.diagnostics())")
        let final = try await cluster.client.job(job.id)
        #expect(final.tasks.succeeded == 30)
        let succeeded = (final.attempts ?? []).filter { $0.outcome == .succeeded }
        #expect(succeeded.count == 30)
        #expect(Set(succeeded.map(\.task)) == Set(0..<30))
    }

    @Test func badInputIsRefusedAndChangesNothing() async throws {
        let cluster = try await TestCluster.start(agents: 1, cpu: 2)
        defer { cluster.stopNow() }
        let spec = cluster.directory + "/bad.yaml"
        try "name: x\nteam: ml\ncommand: [\"true\"]\nresources: {cpu: 1, gpus: 2}\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let bad = try await cluster.drover(["submit", spec])
        #expect(bad.status != 0)
        #expect(bad.stdout.contains("resources.gpus"), "\(bad.stdout)")

        // A job no node could ever fit is refused at submit, naming the largest node.
        await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("huge"), "team": .string("ml"), "command": .string("true"),
                                                         "resources": .object(["cpu": .number(64)])]))
        }
        do {
            _ = try await cluster.client.submit(.object(["name": .string("huge"), "team": .string("ml"), "command": .string("true"),
                                                         "resources": .object(["cpu": .number(64)])]))
        } catch let error as DroverClientError {
            #expect(error.status == 422)
            #expect(error.description.contains("agent-1"))
        }
        // Unknown fields in raw JSON, wrong types, no token, wrong token, unknown job.
        for (body, field) in [("{\"name\":\"a\",\"team\":\"t\",\"command\":\"true\",\"colour\":1}", "colour"),
                              ("{\"name\":\"a\",\"team\":\"t\",\"command\":\"true\",\"tasks\":\"ten\"}", "tasks"),
                              ("{\"name\":\"a\",\"team\":\"t\",\"command\":[]}", "command"),
                              ("[1,2]", "(top level)"), ("{not json", nil)] {
            let (status, problem) = try await post(cluster.url + "/v1/jobs", body: body, token: cluster.adminToken)
            #expect(status == 400, "\(body) → \(status)")
            #expect(problem["field"] as? String == field, "\(body) → \(problem)")
        }
        #expect(try await post(cluster.url + "/v1/jobs", body: "{}", token: nil).0 == 401)
        #expect(try await post(cluster.url + "/v1/jobs", body: "{}", token: "forged").0 == 401)
        #expect(try await post(cluster.url + "/v1/jobs", body: "{}", token: cluster.joinToken).0 == 403)
        let big = String(repeating: "x", count: 2 << 20)
        #expect(try await post(cluster.url + "/v1/jobs", body: "{\"name\":\"\(big)\"}", token: cluster.adminToken).0 == 413)
        let missing = try await cluster.drover(["job", "show", "999"])
        #expect(missing.status != 0)
        #expect(missing.stdout.contains("job 999 does not exist"))
        // Nothing was stored.
        #expect(try await cluster.client.jobs().isEmpty)
    }

    @Test func exampleCoordinatorConfigStarts() async throws {
        // cluster/config/coordinator.yaml is what the docs tell admins to use: it must load.
        let cluster = try TestCluster(heartbeat: "1s", leaseTTL: "5s")
        defer { cluster.stopNow() }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let log = cluster.directory + "/config.log"
        let process = try cluster.spawn(["coordinator", "--config", root + "/cluster/config/coordinator.yaml", "--listen", "127.0.0.1:0",
                                         "--data", cluster.directory + "/data", "--admin-token", "a", "--join-token", "j"], log: log)
        try await cluster.waitUntil("coordinator listening", timeout: .seconds(15)) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("listening on http://127.0.0.1:")
        }
        let exit = await process.terminate(grace: .seconds(5))
        #expect(exit.exitCode == 0, "graceful shutdown on SIGTERM exits 0")
    }

    @Test func secretEnvironmentValuesAreNeverShownBack() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let secret = "hf_" + UUID().uuidString
        let spec = cluster.directory + "/secret.yaml"
        try """
            name: uses-a-secret
            team: ml
            command: echo "token is $HF_TOKEN and mode is $MODE"
            env:
              MODE: fast
              HF_TOKEN: {value: "\(secret)", secret: true}
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let submit = try await cluster.drover(["submit", spec, "--wait"])
        #expect(submit.status == 0, "\(submit.stdout)")
        let id = try #require(submit.stdout.split(separator: "\n").first.map(String.init))
        let show = try await cluster.drover(["job", "show", id, "--output", "json", "--events", "1000"])
        #expect(show.stdout.contains("\"HF_TOKEN\" : \"***\""), "\(show.stdout)")
        #expect(show.stdout.contains("\"MODE\" : \"fast\""))
        let logs = try await cluster.drover(["logs", id])
        #expect(logs.stdout.contains("mode is fast"))
        for output in [show.stdout, logs.stdout, try await cluster.drover(["jobs", "--output", "json"]).stdout] {
            #expect(!output.contains(secret), "the secret leaked: \(output)")
        }
    }

    @Test func wholePathOverTLS() async throws {
        // Given a coordinator serving HTTPS with a certificate made for this test,
        let cluster = try await TestCluster.start(agents: 1, tls: true)
        defer { cluster.stopNow() }
        #expect(cluster.url.hasPrefix("https://"))
        // when the CLI (trusting that certificate) submits and waits, the agent runs the task and reports over TLS.
        let submit = try await cluster.drover(["submit", "--name", "tls", "--team", "ml", "--wait", "--", "echo", "over tls"])
        #expect(submit.status == 0, "\(submit.stdout)\n\(cluster.diagnostics())")
        let id = try #require(submit.stdout.split(separator: "\n").first.map(String.init))
        let logs = try await cluster.client.logs(job: id, task: 0)
        #expect(String(decoding: logs.data, as: UTF8.self) == "over tls\n")
        // A client that does not trust the certificate is refused.
        await #expect(throws: DroverClientError.self) {
            _ = try await DroverClient(baseURL: cluster.url, token: cluster.adminToken, caCertificate: nil).jobs()
        }
    }

    private func post(_ url: String, body: String, token: String?) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }
}
