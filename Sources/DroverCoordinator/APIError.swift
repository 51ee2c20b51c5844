import DroverAPI
import DroverCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1

/// An error answered as RFC 9457 problem+json.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var detail: String
    public var field: String?
    /// Seconds after which a retry may succeed (`Retry-After`), for 503s.
    public var retryAfterSeconds: Int?
    /// Every field at fault, when there are several (an invalid spec).
    public var fieldErrors: [FieldProblem]?

    public init(_ status: HTTPResponse.Status, _ detail: String, field: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.detail = detail
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    static func badRequest(_ detail: String, field: String? = nil) -> APIError { APIError(.badRequest, detail, field: field) }
    static func notFound(_ detail: String) -> APIError { APIError(.notFound, detail) }
    static func conflict(_ detail: String) -> APIError { APIError(.conflict, detail) }
    static func forbidden(_ detail: String) -> APIError { APIError(.forbidden, detail) }
    static let unauthorized = APIError(.unauthorized, "missing bearer token; set DROVER_TOKEN or --token (the request needs 'Authorization: Bearer <token>')")
    /// A token no one issued, or mistyped: told apart from a revoked one, which needs a new token instead.
    static let unknownToken = APIError(.unauthorized, "unknown token; check DROVER_TOKEN or --token")

    /// A token that worked once and was revoked: retyping cannot help, a new one can.
    static func revokedToken(id: String) -> APIError {
        APIError(.unauthorized, "this token was revoked (id \(id)); ask an admin for a new one")
    }

    /// An invalid spec: the first error in `field` and `detail` as before, and, when there are
    /// several, all of them in `errors` and listed in `detail`.
    init(_ error: SpecError) {
        guard !error.others.isEmpty else {
            self.init(.badRequest, error.message, field: error.field)
            return
        }
        let all = error.all
        self.init(.badRequest, "\(all.count) errors: " + all.map(\.description).joined(separator: "; "), field: error.field)
        fieldErrors = all.map { FieldProblem(field: $0.field, detail: $0.message) }
    }

    init(_ error: StoreUnavailable) { self.init(.serviceUnavailable, error.description, retryAfterSeconds: error.retryAfterSeconds) }

    init(_ error: ClusterError) {
        switch error {
        case .jobNotFound, .nodeNotFound, .notFound: self.init(.notFound, error.description)
        case .jobFinished, .conflict, .changedMeanwhile: self.init(.conflict, error.description)
        case .unschedulable: self.init(.unprocessableContent, error.description, field: "resources")
        case .overBudget: self.init(HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"), error.description, field: "team")
        }
    }

    var problem: ProblemDetails {
        ProblemDetails(title: status.reasonPhrase, status: status.code, detail: detail, field: field, errors: fieldErrors)
    }

    public var description: String { "\(status.code) \(detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(problem)
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error into problem+json, including Hummingbird's own (413, 404 of unknown routes).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as ClusterError {
            return try APIError(error).response(from: request, context: context)
        } catch let error as SpecError {
            return try APIError(error).response(from: request, context: context)
        } catch let error as StoreUnavailable {
            return try APIError(error).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            // Hummingbird's own: unknown routes, oversize bodies (NIOTooManyBytesError), …
            let detail: String = switch error.status {
            case .contentTooLarge: "request body is larger than the limit of this endpoint"
            case .notFound: "no such route: \(request.method) \(request.uri.path)"
            case .methodNotAllowed: "method \(request.method) is not allowed on \(request.uri.path)"
            default: (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            return try APIError(error.status, detail).response(from: request, context: context)
        } catch let error as DecodingError {
            return try APIError.badRequest(Self.describe(error), field: Self.field(of: error)).response(from: request, context: context)
        } catch let error as HTTPParserError {
            // The body's framing (chunk sizes, lengths) is broken: the client's request, not us.
            return try APIError.badRequest("malformed HTTP request: \(error); check the body's Content-Length or chunked encoding")
                .response(from: request, context: context)
        } catch {
            logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return try APIError(.internalServerError, "internal error; the coordinator log has details").response(from: request, context: context)
        }
    }

    static func field(of error: DecodingError) -> String? {
        let path: [any CodingKey]
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: return nil
        }
        guard !path.isEmpty else { return nil }
        return path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, _): "expected \(type)"
        case .valueNotFound(let type, _): "a value of type \(type) is required"
        case .keyNotFound(let key, _): "field '\(key.stringValue)' is required"
        // With a path, the JSON parsed and one value was refused (an enum's unknown string:
        // `"exploded" is not one of …`); without one, the body is not JSON.
        case .dataCorrupted(let context) where !context.codingPath.isEmpty: context.debugDescription
        case .dataCorrupted(let context): "malformed JSON: \(context.debugDescription)"
        @unknown default: "malformed request body"
        }
    }
}
