import AsyncHTTPClient
import DroverAPI
import Foundation
import NIOCore
import NIOHTTP1

// Webhooks, their deliveries, and the event stream.
extension DroverClient {
    public func addWebhook(_ request: WebhookCreateRequest) async throws -> WebhookCreated {
        try await send(.POST, "/v1/webhooks", body: request)
    }

    public func webhooks() async throws -> [WebhookView] {
        try await send(.GET, "/v1/webhooks")
    }

    public func removeWebhook(_ id: String) async throws -> WebhookView {
        try await send(.DELETE, "/v1/webhooks/\(Self.escape(id))")
    }

    public func deliveries(webhook: String? = nil, limit: Int = 100) async throws -> [DeliveryView] {
        var path = "/v1/webhooks/deliveries?limit=\(limit)"
        if let webhook { path += "&webhook=\(Self.escape(webhook))" }
        return try await send(.GET, path)
    }

    public func redeliver(_ delivery: String) async throws -> DeliveryView {
        try await send(.POST, "/v1/webhooks/deliveries/\(Self.escape(delivery))/redeliver", body: Optional<JSONValue>.none)
    }

    /// Recent events, oldest first.
    public func events(job: String? = nil, limit: Int = 100) async throws -> [StreamEventView] {
        var path = "/v1/events?limit=\(limit)"
        if let job { path += "&job=\(Self.escape(job))" }
        return try await send(.GET, path)
    }

    /// Follows the event stream, calling `handle` for each event, until the coordinator ends
    /// it (then returns the last id seen, to resume after) or `handle` throws.
    public func followEvents(job: String? = nil, after: Int64? = nil, handle: (StreamEventView) throws -> Void) async throws -> Int64? {
        var path = "/v1/events?follow=true"
        if let job { path += "&job=\(Self.escape(job))" }
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let after { request.headers.add(name: "Last-Event-ID", value: String(after)) }
        request.headers.add(name: "Accept", value: "text/event-stream")
        let http = try await httpClient()
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw DroverClientError(transportError: error, url: baseURL)
        }
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            try Self.check(status: response.status, body: Array(body.readableBytesView))
            return after
        }
        var parser = ServerSentEvents()
        var last = after
        let decoder = JSONDecoder()
        for try await chunk in response.body {
            for message in parser.feed(Array(chunk.readableBytesView)) {
                guard let event = try? decoder.decode(StreamEventView.self, from: Data(message.data.utf8)) else { continue }
                last = event.id
                try handle(event)
            }
        }
        return last
    }
}

/// Splits a text/event-stream into messages (the `data` lines of each, joined); comments and
/// other fields are skipped.
public struct ServerSentEvents: Sendable {
    public struct Message: Hashable, Sendable {
        public var id: String?
        public var data: String
    }

    private var pending: [UInt8] = []
    private var id: String?
    private var data: [String] = []

    public init() {}

    /// The messages completed by `bytes`.
    public mutating func feed(_ bytes: [UInt8]) -> [Message] {
        pending += bytes
        var messages: [Message] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if !data.isEmpty { messages.append(Message(id: id, data: data.joined(separator: "\n"))) }
                (id, data) = (nil, [])
            } else if line.hasPrefix("data:") {
                data.append(String(line.dropFirst(5).drop { $0 == " " }))
            } else if line.hasPrefix("id:") {
                id = String(line.dropFirst(3).drop { $0 == " " })
            }
        }
        return messages
    }
}
