import DroverAPI
import DroverCore

/// What `drover` exits with (README: Exit codes; DESIGN.md: the contract). A job's own exit
/// code where it has one; otherwise sysexits(3) codes, so that a script can tell "the model
/// failed" (1, or the task's code) from "the cluster is down" (69) or "wrong token" (77).
public enum CLIExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// A job failed without an exit code of its own (lost, timed out, cancelled, gate failed),
    /// or a failure none of the others describe.
    case failure = 1
    /// A mistyped command or flag, a flag value that cannot be used (EX_USAGE).
    case usage = 64
    /// An invalid spec or request data (400, 422), or a request the job's state refuses
    /// (409: cancelling a job that already ended; retrying the same cannot help) (EX_DATAERR).
    case invalidData = 65
    /// No such job, node, token or file (404) (EX_NOINPUT).
    case notFound = 66
    /// The coordinator cannot be reached (refused, timed out, host not found) (EX_UNAVAILABLE).
    case unreachable = 69
    /// The coordinator is unavailable for now (503, 429): the same command may work later (EX_TEMPFAIL).
    case tryLater = 75
    /// Credentials or permission refused (401, 403), a budget that does not admit the job
    /// (402), or a coordinator this client does not trust (EX_NOPERM).
    case refused = 77

    /// The status for an error answer of the coordinator.
    public init(httpStatus status: Int) {
        switch status {
        case 400, 413, 422, 409: self = .invalidData
        case 401, 402, 403: self = .refused
        case 404: self = .notFound
        case 429, 503: self = .tryLater
        case 502, 504: self = .unreachable  // a proxy in front of it got no answer
        default: self = .failure
        }
    }

    /// The status for a failed request.
    public init(_ error: DroverClientError) {
        switch error {
        case .problem(let problem): self.init(httpStatus: problem.status)
        case .unreachable: self = .unreachable
        case .untrustedCertificate, .caPinMismatch, .caPinUnusable: self = .refused
        case .misconfigured: self = .usage
        case .unreadableResponse: self = .failure
        }
    }

    /// What `wait` and `submit --wait` exit with for a finished job: 0 if it succeeded; for a
    /// one-task job whose last attempt failed by its own exit, that code (1…255), or 128+N for
    /// signal N as a shell reports it; otherwise 1.
    public static func code(of job: JobView) -> Int32 {
        guard job.state != .succeeded else { return CLIExitStatus.success.rawValue }
        guard job.tasks.total == 1, let last = job.attempts?.last(where: { $0.task == 0 }), last.outcome == .failed else {
            return CLIExitStatus.failure.rawValue
        }
        if let signal = last.signal, signal > 0 { return min(128 + signal, 255) }
        if let code = last.exitCode, code != 0 { return min(max(code, 1), 255) }
        return CLIExitStatus.failure.rawValue
    }
}
