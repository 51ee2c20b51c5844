import DroverAPI
import DroverClient
import DroverCore
import DroverTesting
import Foundation
import Logging
import Synchronization

@testable import DroverAgent

/// Values handed over by the code under test, awaited by the test one by one.
final class Recorder<Value: Sendable>: Sendable {
    private let continuation: AsyncStream<Value>.Continuation
    let stream: AsyncStream<Value>
    private let all = Mutex<[Value]>([])

    init() { (stream, continuation) = AsyncStream.makeStream(of: Value.self) }

    func record(_ value: Value) {
        all.withLock { $0.append(value) }
        continuation.yield(value)
    }

    /// Everything recorded so far.
    var values: [Value] { all.withLock { $0 } }
}

/// A coordinator stand-in: each call is recorded, then answered by the handler the test set
/// (by default: unreachable).
final class StubCoordinator: CoordinatorLink {
    struct Upload: Sendable, Equatable {
        var attempt: String
        var offset: Int64
        var data: [UInt8]
        var text: String { String(decoding: data, as: UTF8.self) }
    }
    private struct Handlers {
        var poll: @Sendable (PollRequest) async throws -> PollResponse = { _ in throw StubCoordinator.unreachable }
        var heartbeat: @Sendable (HeartbeatRequest) async throws -> HeartbeatResponse = { _ in throw StubCoordinator.unreachable }
        var report: @Sendable (ReportBatch) async throws -> ReportResults = { _ in throw StubCoordinator.unreachable }
        var upload: @Sendable (Upload) async throws -> Void = { _ in }
    }
    private let handlers = Mutex(Handlers())
    let polls = Recorder<PollRequest>()
    let heartbeats = Recorder<HeartbeatRequest>()
    let reports = Recorder<ReportBatch>()
    let uploads = Recorder<Upload>()
    /// Calls that never got an answer because the caller cancelled them.
    let cancelled = Recorder<String>()

    static let unreachable = DroverClientError.unreachable(url: "http://stub", detail: "connection refused")
    static func refused(_ status: Int) -> DroverClientError {
        .problem(ProblemDetails(title: "refused", status: status, detail: "refused with \(status)"))
    }

    func onPoll(_ handler: @escaping @Sendable (PollRequest) async throws -> PollResponse) { handlers.withLock { $0.poll = handler } }
    func onHeartbeat(_ handler: @escaping @Sendable (HeartbeatRequest) async throws -> HeartbeatResponse) { handlers.withLock { $0.heartbeat = handler } }
    func onReport(_ handler: @escaping @Sendable (ReportBatch) async throws -> ReportResults) { handlers.withLock { $0.report = handler } }
    func onUpload(_ handler: @escaping @Sendable (Upload) async throws -> Void) { handlers.withLock { $0.upload = handler } }

    /// An answer that never comes: waits until the caller gives up (cancels).
    func neverAnswer<T>(_ call: String) async throws -> T {
        await Latch().wait()
        cancelled.record(call)
        throw CancellationError()
    }

    func poll(_ request: PollRequest) async throws -> PollResponse {
        polls.record(request)
        return try await handlers.withLock { $0.poll }(request)
    }

    func heartbeat(_ request: HeartbeatRequest) async throws -> HeartbeatResponse {
        heartbeats.record(request)
        return try await handlers.withLock { $0.heartbeat }(request)
    }

    func report(_ batch: ReportBatch) async throws -> ReportResults {
        reports.record(batch)
        return try await handlers.withLock { $0.report }(batch)
    }

    func uploadLog(attempt: String, offset: Int64, data: [UInt8]) async throws {
        let upload = Upload(attempt: attempt, offset: offset, data: data)
        uploads.record(upload)
        try await handlers.withLock { $0.upload }(upload)
    }
}

/// A lease as the coordinator would hand it out.
func makeLease(_ id: String = "101", task: Int = 0, command: [String] = ["true"], env: [String: String] = [:], timeoutMs: Int64? = nil,
               secretEnv: [String]? = nil) -> LeaseView {
    LeaseView(attemptId: id, jobId: "7", jobName: "job", team: "ml", task: task, taskCount: 5, attempt: 1, command: command, env: env,
              resources: ResourcesView(cpu: 1, memory: 1 << 20, gpu: 0), gpus: [], timeoutMs: timeoutMs, secretEnv: secretEnv)
}

func makeReport(_ id: String, _ outcome: AttemptState = .succeeded) -> ReportView {
    ReportView(attemptId: id, outcome: outcome, exitCode: 0, signal: nil, wallMs: 1, peakRssBytes: nil, progress: nil, reason: nil)
}

let quietLogger: Logger = {
    var logger = Logger(label: "drover.agent.test")
    logger.logLevel = .critical
    return logger
}()

/// A fresh temporary directory (symlinks resolved), for files a test writes.
func temporaryDirectory() throws -> String {
    let path = URL(fileURLWithPath: NSTemporaryDirectory() + "drover-agent-test-\(UUID().uuidString.prefix(8))").resolvingSymlinksInPath().path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

extension ManualMonotonicClock {
    /// Waits until a task sleeps until `origin + after`, then moves the clock there.
    func advance(whenSleepingUntil deadline: ContinuousClock.Instant) async {
        await waitForSleeper(until: deadline)
        advance(to: deadline)
    }
}
