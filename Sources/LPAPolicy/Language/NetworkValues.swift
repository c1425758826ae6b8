import Yams

/// Readers for `network:` endpoints (`publish`, `connect`). Each returns nil after
/// recording a diagnostic when the value is wrong.
extension NodeReader {
    mutating func endpoint<T>(_ node: Node, key: String,
                              _ parse: (String) throws(EndpointParser.Failure) -> T) -> T? {
        guard let text = string(node, key: key) else { return nil }
        do throws(EndpointParser.Failure) {
            return try parse(text.value)
        } catch {
            self.error(node, error.message, hint: error.hint)
            return nil
        }
    }
}
