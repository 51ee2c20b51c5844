import DroverAPI
import DroverCore
import Foundation
import NIOCore
import Testing
@testable import DroverClient

/// One mapping from every failure to an exit code (README: Exit codes).
@Suite struct CLIExitStatusTests {
    @Test func coordinatorAnswersMapToSysexits() {
        let expected: [Int: CLIExitStatus] = [400: .invalidData, 422: .invalidData, 409: .invalidData, 413: .invalidData, 401: .refused, 403: .refused,
                                           402: .refused, 404: .notFound, 503: .tryLater, 429: .tryLater, 502: .unreachable, 500: .failure]
        for (status, exit) in expected {
            #expect(CLIExitStatus(httpStatus: status) == exit, "HTTP \(status)")
            #expect(CLIExitStatus(DroverClientError.problem(ProblemDetails(title: "t", status: status, detail: "d"))) == exit)
        }
        #expect(CLIExitStatus.allCases.map(\.rawValue) == [0, 1, 64, 65, 66, 69, 75, 77])
    }

    @Test func clientFailuresMapToSysexits() {
        #expect(CLIExitStatus(.unreachable(url: "http://x", detail: "refused")) == .unreachable)
        #expect(CLIExitStatus(.untrustedCertificate(url: "https://x", detail: "d")) == .refused)
        #expect(CLIExitStatus(.misconfigured("--ca-pin needs https")) == .usage)
        #expect(CLIExitStatus(.unreadableResponse(path: "/v1/jobs", detail: "d")) == .failure)
    }

    @Test func aFailedOneTaskJobExitsWithItsTasksCode() {
        #expect(CLIExitStatus.code(of: job(.succeeded, [attempt(.succeeded, exit: 0)])) == 0)
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.failed, exit: 2), attempt(.failed, exit: 3)])) == 3, "the last attempt's")
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.failed, exit: 300)])) == 255, "clamped to 1...255")
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.failed, exit: -4)])) == 1)
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.failed, signal: 9)])) == 137, "128+N for a signal, as shells do")
    }

    @Test func aJobThatFailedWithoutAnExitCodeExitsWithOne() {
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.timedOut, signal: 15)])) == 1, "timed out: its signal is ours, not the task's")
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.lost)])) == 1)
        #expect(CLIExitStatus.code(of: job(.cancelled, [])) == 1)
        #expect(CLIExitStatus.code(of: job(.failed, [attempt(.failed, exit: 3)], tasks: 2)) == 1, "a job of several tasks has no one code")
    }

    @Test func transportErrorsAreSaidInWords() {
        #expect(TransportFailure(errno: ECONNREFUSED) == .refused)
        #expect(TransportFailure(IOError(errnoCode: ECONNREFUSED, reason: "connect")) == .refused)
        #expect(TransportFailure(text: "connection reset (error set): Connection refused (errno: 111)") == .refused)
        #expect(TransportFailure(text: "NIOConnectionError(host: nohost.invalid, dnsAError: Optional(NIOPosix.SocketAddressError.unknown(host: \"nohost.invalid\", port: 7070)))") == .hostNotFound)
        #expect(TransportFailure(text: "HTTPClientError.connectTimeout") == .timedOut)
        #expect(TransportFailure(text: "something else") == .other)
        let message = DroverClientError.unreachable(url: "http://127.0.0.1:1", detail: TransportFailure.refused.hint).description
        #expect(message == "cannot reach the coordinator at http://127.0.0.1:1: connection refused — is it running? set --coordinator or DROVER_COORDINATOR")
    }

    func job(_ state: JobState, _ attempts: [AttemptView], tasks: Int = 1) -> JobView {
        JobView(id: "1", name: "j", team: "ml", kind: tasks > 1 ? .batch : .training, state: state, priority: 0,
                tasks: TaskCounts(total: tasks, queued: 0, running: 0, succeeded: 0, failed: 1, cancelled: 0), command: ["true"],
                resources: ResourcesView(cpu: 1, memory: 1 << 30, gpu: 0), submittedAt: "2026-01-01T00:00:00.000Z", startedAt: nil, endedAt: nil,
                submittedBy: "admin", reason: nil, pendingReason: nil, cost: 0, progress: nil, attempts: attempts)
    }

    func attempt(_ outcome: AttemptState, exit: Int32? = nil, signal: Int32? = nil) -> AttemptView {
        AttemptView(id: "a", task: 0, attempt: 1, node: "n", outcome: outcome, exitCode: exit, signal: signal, startedAt: "2026-01-01T00:00:00.000Z",
                    endedAt: nil, peakRssBytes: nil, cost: 0, gpus: [], progress: nil, reason: nil)
    }
}
