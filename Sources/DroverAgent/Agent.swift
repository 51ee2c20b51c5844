import DroverAPI
import DroverClient
import DroverCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The agent service: registers, then long-polls for leases, runs each attempt as its own
/// process group, ships its output, heartbeats, and reports how each attempt ended.
public final class Agent: Service {
    let configuration: AgentConfiguration
    let logger: Logger
    private let state = Mutex(AgentState())
    private let reportKick: AsyncStream<Void>.Continuation
    private let reportKicks: AsyncStream<Void>
    private let workDirectories: WorkDirectories
    /// The agent's own environment, which every task inherits (less any `DROVER_` variables).
    private let inheritedEnvironment: [String: String]

    struct AgentState {
        var client: DroverClient?
        var heartbeatInterval: Duration = .seconds(5)
        var running: [String: RunningAttempt] = [:]
        var pendingReports: [ReportView] = []
        /// Last time a request to the coordinator succeeded.
        var lastContact = ContinuousClock.now
        var disconnectGrace: Duration = .seconds(20)
        var disconnected = false
        var revoked = false
    }

    struct RunningAttempt {
        var lease: LeaseView
        var process: RunningProcess?
        var progressPath: String
        /// Set when the coordinator asked to stop it (cancel) or the agent is shutting down.
        var stopReason: (outcome: String, reason: String)?
    }

    public init(configuration: AgentConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (reportKicks, reportKick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        workDirectories = WorkDirectories(root: configuration.workDirectory, checkpointRoot: configuration.checkpointRoot ?? configuration.workDirectory + "/checkpoints",
                                          keep: configuration.keepWorkDirectories)
        inheritedEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DROVER_") }
    }

    /// Number of attempts running now.
    public var runningCount: Int { state.withLock { $0.running.count } }

    public func run() async throws {
        let registration = try await registerWithRetry()
        guard let registration else { return } // shut down before registering
        let (leases, leaseSink) = AsyncStream.makeStream(of: LeaseView.self)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.pollLoop(into: leaseSink) }
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.reportLoop(into: leaseSink) }
                for await lease in leases {
                    group.addTask { await self.runAttempt(lease) }
                }
                // Polling stopped (shutdown): stop what runs, then deliver the last reports.
                await self.stopAll(outcome: "preempted", reason: "agent \(registration.nodeId) is shutting down")
                while self.runningCount > 0 { try? await Task.sleep(for: .milliseconds(20)) }
                await self.flushReports(deadline: .now + .seconds(10))
                self.reportKick.finish()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            leaseSink.finish()
        }
        if state.withLock({ $0.revoked }) { throw AgentError("this agent's token was revoked; register it again with the join token if that was a mistake") }
        logger.info("agent stopped")
    }

    // MARK: - Registration

    private func registerWithRetry() async throws -> RegisterResponse? {
        let request = try await registrationRequest()
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let client = try DroverClient(baseURL: configuration.coordinatorURL, token: configuration.joinToken, caCertificate: configuration.caCertificate)
                let response = try await client.register(request)
                let authenticated = try DroverClient(baseURL: configuration.coordinatorURL, token: response.token, caCertificate: configuration.caCertificate)
                state.withLock {
                    $0.client = authenticated
                    $0.heartbeatInterval = .milliseconds(response.heartbeatIntervalMs)
                    $0.disconnectGrace = configuration.disconnectGrace ?? .milliseconds(response.leaseTtlMs)
                    $0.lastContact = .now
                }
                logger.info("registered", metadata: ["node.id": "\(response.nodeId)", "node.name": "\(request.name)",
                                                     "node.cpu": "\(request.cpu)", "node.memory": "\(request.memory)", "node.gpus": "\(request.gpus.count)"])
                return response
            } catch let error as DroverClientError where error.status == 401 || error.status == 403 || error.status == 400 {
                throw AgentError("registration refused: \(error)")
            } catch {
                logger.warning("cannot register yet; retrying", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }

    private func registrationRequest() async throws -> RegisterRequest {
        let name = configuration.name ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "agent"
        var gpus: [GPUInfo]
        if let count = configuration.gpus {
            let detected = (try? await HostCapacity.detectGPUs(executable: configuration.nvidiaSmi)) ?? []
            gpus = (0..<count).map { index in
                detected.first { $0.index == index }.map { GPUInfo(index: $0.index, name: $0.name, memoryMiB: $0.memoryMiB) }
                    ?? GPUInfo(index: index, name: "gpu", memoryMiB: nil)
            }
        } else {
            gpus = try await HostCapacity.detectGPUs(executable: configuration.nvidiaSmi).map { GPUInfo(index: $0.index, name: $0.name, memoryMiB: $0.memoryMiB) }
        }
        return RegisterRequest(
            name: name, cpu: configuration.cpu ?? Double(HostCapacity.cpuCores()), memory: configuration.memoryBytes ?? HostCapacity.memoryBytes(),
            gpus: gpus, labels: configuration.labels, prices: configuration.prices)
    }

    private var client: DroverClient { state.withLock { $0.client! } }

    // MARK: - Polling

    private func pollLoop(into sink: AsyncStream<LeaseView>.Continuation) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let response = try await client.poll(PollRequest(maxLeases: configuration.maxLeasesPerPoll, waitMs: configuration.pollWait.milliseconds))
                noteContact()
                delay = .milliseconds(100)
                accept(response.leases, into: sink)
                for id in response.cancel { await stop(id, outcome: "cancelled", reason: "job ended; stopped at the coordinator's request") }
            } catch is CancellationError {
                return
            } catch let error as DroverClientError where error.status == 401 {
                // Our token was revoked (an admin's `drover node revoke`): stop, do not re-register.
                logger.error("the coordinator refused this agent's token (revoked?); stopping all tasks and exiting", metadata: ["error": "\(error)"])
                state.withLock { $0.revoked = true }
                await stopAll(outcome: "cancelled", reason: "agent token revoked")
                break
            } catch {
                if Task.isShuttingDownGracefully { return }
                logger.warning("poll failed; retrying", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        sink.finish()
    }

    /// Starts attempts of new leases (from a poll or a report's answer).
    private func accept(_ leases: [LeaseView], into sink: AsyncStream<LeaseView>.Continuation) {
        for lease in leases {
            state.withLock { $0.running[lease.attemptId] = RunningAttempt(lease: lease, progressPath: "") }
            sink.yield(lease)
        }
    }

    // MARK: - Heartbeats

    private func heartbeatLoop() async {
        while !Task.isCancelled {
            let interval = state.withLock { $0.heartbeatInterval }
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let attempts = state.withLock { state in state.running.values.map { ($0.lease.attemptId, $0.progressPath) } }
            let beats = attempts.map { HeartbeatAttempt(attemptId: $0.0, progress: Self.latestProgress(at: $0.1)) }
            do {
                let response = try await client.heartbeat(HeartbeatRequest(attempts: beats))
                noteContact()
                for id in response.unknown {
                    logger.warning("coordinator no longer holds this attempt; killing it", metadata: ["attempt.id": "\(id)"])
                    await stop(id, outcome: "cancelled", reason: "lease no longer held")
                }
                for id in response.cancel { await stop(id, outcome: "cancelled", reason: "job ended; stopped at the coordinator's request") }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
                await stopIfDisconnectedTooLong()
            }
        }
    }

    private func noteContact() {
        let wasDisconnected = state.withLock { state in
            defer {
                state.lastContact = .now
                state.disconnected = false
            }
            return state.disconnected
        }
        if wasDisconnected { logger.info("coordinator reachable again; delivering buffered reports") }
    }

    /// Past the disconnect grace the coordinator has (or soon will have) given these tasks to
    /// other machines: stop them here so the same task does not run twice for long.
    private func stopIfDisconnectedTooLong() async {
        let (silent, grace, first) = state.withLock { state in
            let silent = ContinuousClock.now - state.lastContact
            let first = silent > state.disconnectGrace && !state.disconnected
            if first { state.disconnected = true }
            return (silent, state.disconnectGrace, first)
        }
        guard first || (silent > grace && runningCount > 0) else { return }
        logger.error("coordinator unreachable past the disconnect grace; stopping all tasks",
                     metadata: ["silent": "\(silent)", "grace": "\(grace)", "attempts": "\(runningCount)"])
        await stopAll(outcome: "cancelled", reason: "agent could not reach the coordinator for \(silent); stopped after the disconnect grace of \(grace)")
    }

    /// The last complete JSON line of a progress file (only its last 8 KiB are read).
    static func latestProgress(at path: String) -> JSONValue? {
        guard !path.isEmpty, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return nil }
        try? handle.seek(toOffset: size > 8192 ? size - 8192 : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").reversed() {
            if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)), case .object = value { return value }
        }
        return nil
    }

    // MARK: - Reports

    private func enqueue(_ report: ReportView) {
        state.withLock { $0.pendingReports.append(report) }
        reportKick.yield()
    }

    private func reportLoop(into sink: AsyncStream<LeaseView>.Continuation) async {
        for await _ in reportKicks {
            await sendReports(takingLeasesInto: sink)
        }
    }

    /// Sends every queued report in one request; keeps them queued if that fails. With a
    /// `sink`, the request also asks for leases for the capacity the reports freed (one
    /// round trip instead of a report and a poll), and starts them.
    private func sendReports(takingLeasesInto sink: AsyncStream<LeaseView>.Continuation? = nil) async {
        var delay = Duration.milliseconds(100)
        while true {
            let batch = state.withLock { state in
                defer { state.pendingReports = [] }
                return state.pendingReports
            }
            guard !batch.isEmpty else { return }
            do {
                let takeLeases = sink != nil && !Task.isShuttingDownGracefully && !Task.isCancelled
                let results = try await client.report(ReportBatch(reports: batch, maxLeases: takeLeases ? configuration.maxLeasesPerPoll : nil))
                noteContact()
                if let sink, let leases = results.leases { accept(leases, into: sink) }
                for result in results.results where result.status != "accepted" && result.status != "duplicate" {
                    logger.warning("report refused", metadata: ["attempt.id": "\(result.attemptId)", "status": "\(result.status)", "detail": "\(result.detail ?? "")"])
                }
            } catch {
                logger.warning("cannot deliver reports; will retry", metadata: ["error": "\(error)", "reports": "\(batch.count)"])
                state.withLock { $0.pendingReports.insert(contentsOf: batch, at: 0) }
                if Task.isCancelled { return }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func flushReports(deadline: ContinuousClock.Instant) async {
        while ContinuousClock.now < deadline, state.withLock({ !$0.pendingReports.isEmpty }) {
            await sendReports()
        }
    }

    // MARK: - Running attempts

    private func stop(_ id: String, outcome: String, reason: String) async {
        let process = state.withLock { state -> RunningProcess? in
            guard state.running[id] != nil, state.running[id]!.stopReason == nil else { return nil }
            state.running[id]!.stopReason = (outcome, reason)
            return state.running[id]!.process
        }
        // A process not spawned yet sees stopReason when it would start.
        if let process {
            logger.info("stopping attempt", metadata: ["attempt.id": "\(id)", "reason": "\(reason)"])
            _ = await process.terminate(grace: configuration.killGrace)
        }
    }

    private func stopAll(outcome: String, reason: String) async {
        let ids = state.withLock { Array($0.running.keys) }
        await withTaskGroup(of: Void.self) { group in
            for id in ids { group.addTask { await self.stop(id, outcome: outcome, reason: reason) } }
        }
    }

    private func runAttempt(_ lease: LeaseView) async {
        let directory: String
        do {
            directory = try workDirectories.take()
        } catch {
            finish(lease, report: ReportView(attemptId: lease.attemptId, outcome: "failed", exitCode: nil, signal: nil, wallMs: 0, peakRssBytes: nil,
                                             progress: nil, reason: "cannot start: no working directory: \(error)"))
            return
        }
        let checkpoints = workDirectories.checkpoints(job: lease.jobId, task: lease.task)
        let outputPath = "\(directory)/\(WorkDirectories.outputFileName)"
        let progressPath = "\(directory)/progress.jsonl"
        func release(succeeded: Bool) {
            workDirectories.release(directory, succeeded: succeeded, job: lease.jobId, task: lease.task, attempt: lease.attempt)
        }
        var environment = inheritedEnvironment
        for (key, value) in lease.env { environment[key] = value }
        environment["DROVER_JOB_ID"] = lease.jobId
        environment["DROVER_JOB_NAME"] = lease.jobName
        environment["DROVER_TEAM"] = lease.team
        environment["DROVER_TASK_INDEX"] = String(lease.task)
        environment["DROVER_TASK_COUNT"] = String(lease.taskCount)
        environment["DROVER_ATTEMPT"] = String(lease.attempt)
        environment["DROVER_ATTEMPT_ID"] = lease.attemptId
        environment["DROVER_WORK_DIR"] = directory
        environment["DROVER_CHECKPOINT_DIR"] = checkpoints
        environment["DROVER_PROGRESS_FILE"] = progressPath
        environment["DROVER_GPU_IDS"] = lease.gpus.map(String.init).joined(separator: ",")
        environment["CUDA_VISIBLE_DEVICES"] = lease.gpus.map(String.init).joined(separator: ",")

        let process: RunningProcess
        do {
            try workDirectories.prepareCheckpoints(checkpoints)
            if let stop = state.withLock({ $0.running[lease.attemptId]?.stopReason }) {
                finish(lease, report: ReportView(attemptId: lease.attemptId, outcome: stop.outcome, exitCode: nil, signal: nil, wallMs: 0,
                                                 peakRssBytes: nil, progress: nil, reason: stop.reason))
                release(succeeded: true) // nothing ran in it
                return
            }
            process = try RunningProcess.spawn(ProcessLaunch(argv: lease.command, environment: environment, workingDirectory: directory, outputPath: outputPath))
        } catch {
            let message = "drover: cannot start the task: \(error)\n"
            _ = FileManager.default.createFile(atPath: outputPath, contents: Data(message.utf8))
            await shipLog(lease, path: outputPath, from: 0)
            finish(lease, report: ReportView(attemptId: lease.attemptId, outcome: "failed", exitCode: nil, signal: nil, wallMs: 0, peakRssBytes: nil,
                                             progress: nil, reason: "cannot start: \(error)"))
            release(succeeded: false)
            return
        }
        let pendingStop = state.withLock { state -> Bool in
            state.running[lease.attemptId]?.process = process
            state.running[lease.attemptId]?.progressPath = progressPath
            return state.running[lease.attemptId]?.stopReason != nil
        }
        if pendingStop { _ = await process.terminate(grace: configuration.killGrace) }
        logger.debug("attempt started", metadata: ["attempt.id": "\(lease.attemptId)", "job.id": "\(lease.jobId)", "task": "\(lease.task)", "pid": "\(process.pid)"])

        // Ship output while it runs; enforce the timeout.
        let (exit, timedOut, shipped) = await withTaskGroup(of: AttemptEvent.self) { group -> (ProcessExit, Bool, Int64) in
            group.addTask { .exited(await process.wait()) }
            group.addTask {
                var offset: Int64 = 0
                while true {
                    do { try await Task.sleep(for: .seconds(1)) } catch { return .shipped(offset) }
                    // An upload under way finishes even when the process exits meanwhile: cutting
                    // it off would leave a half-sent chunk to resend.
                    let from = offset
                    offset = await Task.detached { await self.shipLog(lease, path: outputPath, from: from) }.value
                }
            }
            if let timeout = lease.timeoutMs {
                group.addTask {
                    do { try await Task.sleep(for: .milliseconds(timeout)) } catch { return .timerCancelled }
                    _ = await process.terminate(grace: self.configuration.killGrace)
                    return .timedOut
                }
            }
            var exit: ProcessExit?
            var timedOut = false
            var shipped: Int64 = 0
            for await event in group {
                switch event {
                case .exited(let result):
                    exit = result
                    group.cancelAll()
                case .timedOut: timedOut = true
                case .shipped(let offset): shipped = offset
                case .timerCancelled: break
                }
            }
            return (exit!, timedOut, shipped)
        }
        _ = await shipLog(lease, path: outputPath, from: shipped)

        let stop = state.withLock { $0.running[lease.attemptId]?.stopReason }
        let outcome: String
        var reason: String?
        if timedOut {
            outcome = "timed_out"
            reason = "exceeded its timeout of \(lease.timeoutMs!)ms"
        } else if let stop, exit.exitCode != 0 {
            outcome = stop.outcome
            reason = stop.reason
        } else if exit.exitCode == 0 {
            outcome = "succeeded"
        } else {
            outcome = "failed"
            reason = exit.signal.map { "killed by signal \($0)" } ?? "exited with code \(exit.exitCode ?? -1)"
        }
        finish(lease, report: ReportView(attemptId: lease.attemptId, outcome: outcome, exitCode: exit.exitCode, signal: exit.signal,
                                         wallMs: exit.wallMilliseconds, peakRssBytes: exit.peakRSSBytes,
                                         progress: Self.latestProgress(at: progressPath), reason: reason))
        release(succeeded: outcome == "succeeded")
        if outcome == "succeeded" && !configuration.keepWorkDirectories {
            workDirectories.discardCheckpoints(checkpoints) // the task is done: nothing to resume
        }
    }

    /// Replaces every occurrence of a secret value by `*` of the same length, so offsets of
    /// the shipped output stay those of the file. (A secret split across two chunks is not caught.)
    static func mask(_ bytes: [UInt8], secrets: [String]) -> [UInt8] {
        var output = bytes
        for secret in secrets where secret.utf8.count >= 4 {
            let needle = Array(secret.utf8)
            var index = 0
            while index + needle.count <= output.count {
                if output[index] == needle[0] && Array(output[index..<index + needle.count]) == needle {
                    output.replaceSubrange(index..<index + needle.count, with: repeatElement(UInt8(ascii: "*"), count: needle.count))
                    index += needle.count
                } else {
                    index += 1
                }
            }
        }
        return output
    }

    private enum AttemptEvent: Sendable {
        case exited(ProcessExit)
        case timedOut
        case timerCancelled
        case shipped(Int64)
    }

    /// Queues the report even of an attempt the coordinator disowned: it will be refused as
    /// stale, and that refusal is part of the audit trail.
    private func finish(_ lease: LeaseView, report: ReportView) {
        state.withLock { _ = $0.running.removeValue(forKey: lease.attemptId) }
        enqueue(report)
    }

    /// Uploads output written since `offset`; returns the new offset. A refused upload (the
    /// lease is gone) is dropped: the coordinator keeps only output of current leases.
    @discardableResult
    private func shipLog(_ lease: LeaseView, path: String, from offset: Int64) async -> Int64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        var position = offset
        while true {
            do {
                try handle.seek(toOffset: UInt64(position))
                guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return position }
                let secrets = (lease.secretEnv ?? []).compactMap { lease.env[$0] }
                try await client.uploadLog(attempt: lease.attemptId, offset: position, data: Self.mask(Array(data), secrets: secrets))
                position += Int64(data.count)
            } catch let error as DroverClientError where error.status == 409 || error.status == 403 {
                return Int64.max / 2
            } catch {
                logger.warning("cannot ship output; will retry", metadata: ["attempt.id": "\(lease.attemptId)", "error": "\(error)"])
                return position
            }
        }
    }
}

/// An agent failure that retrying will not fix.
public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

