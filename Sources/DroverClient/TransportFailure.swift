import AsyncHTTPClient
import Foundation
import NIOCore

/// Why no answer came, in words a person can act on, instead of NIO's and AsyncHTTPClient's
/// error types (`IOError`, `NIOConnectionError`, `HTTPClientError.connectTimeout`, …).
enum TransportFailure: Equatable {
    case refused, timedOut, hostNotFound, reset, noRoute, other

    init(_ error: any Error) {
        if let io = error as? IOError {
            self.init(errno: io.errnoCode)
        } else if let http = error as? HTTPClientError, [.connectTimeout, .deadlineExceeded, .readTimeout].contains(http) {
            self = .timedOut
        } else {
            self.init(text: String(describing: error))
        }
    }

    init(errno code: Int32) {
        switch code {
        case ECONNREFUSED: self = .refused
        case ETIMEDOUT: self = .timedOut
        case ECONNRESET, EPIPE: self = .reset
        case EHOSTUNREACH, ENETUNREACH: self = .noRoute
        default: self = .other
        }
    }

    /// From an error's text, for the types this module cannot name (NIOPosix's connection and
    /// resolver errors carry the errno or the resolver's words in their description).
    init(text: String) {
        let lower = text.lowercased()
        if lower.contains("connection refused") || lower.contains("errno: 111") {
            self = .refused
        } else if lower.contains("name or service not known") || lower.contains("temporary failure in name resolution")
                    || lower.contains("no address associated") || lower.contains("unknown(host") || lower.contains("nodename nor servname") {
            self = .hostNotFound
        } else if lower.contains("timeout") || lower.contains("timed out") {
            self = .timedOut
        } else if lower.contains("connection reset") || lower.contains("errno: 104") {
            self = .reset
        } else if lower.contains("no route to host") || lower.contains("network is unreachable") {
            self = .noRoute
        } else {
            self = .other
        }
    }

    /// What happened and what to do, after "cannot reach the coordinator at URL: ".
    var hint: String {
        switch self {
        case .refused: "connection refused — is it running? set --coordinator or DROVER_COORDINATOR"
        case .timedOut: "no answer in time — is the host up and the port open? set --coordinator or DROVER_COORDINATOR"
        case .hostNotFound: "host not found — check the host name in --coordinator or DROVER_COORDINATOR"
        case .reset: "the connection was reset — is it restarting, or does it serve HTTPS (use an https:// URL)?"
        case .noRoute: "no route to the host — check the network and --coordinator or DROVER_COORDINATOR"
        case .other: "the connection failed — is it running? set --coordinator or DROVER_COORDINATOR"
        }
    }
}
