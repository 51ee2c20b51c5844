/// The OpenAPI 3.1 document of the HTTP API, served at `GET /v1/openapi.json`.
///
/// `json` is docs/openapi.json byte for byte: the EmbedOpenAPI build-tool plugin
/// (Plugins/EmbedOpenAPI) generates the Swift file that declares it at every build where the
/// document changed, so the document lives once. Edit docs/openapi.json; `OpenAPITests`
/// checks that it lists exactly the routes `Routes` registers.
enum OpenAPIDocument {}
