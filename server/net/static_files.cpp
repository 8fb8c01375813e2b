#include "net/static_files.hpp"

#include <cctype>
#include <system_error>

namespace sb::net {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

bool inside(const std::filesystem::path& root, const std::filesystem::path& p) {
    auto r = root.begin();
    auto q = p.begin();
    for (; r != root.end(); ++r, ++q) {
        if (q == p.end() || *r != *q) return false;
    }
    return true;
}

}  // namespace

StaticLookup resolve_static(const std::filesystem::path& root, std::string_view target_path) {
    namespace fs = std::filesystem;
    StaticLookup none;
    auto decoded = percent_decode(target_path);
    if (!decoded || decoded->empty() || (*decoded)[0] != '/') return none;
    const std::string& d = *decoded;
    if (d.find('\0') != std::string::npos || d.find('\\') != std::string::npos) return none;
    // Reject any ".." segment outright rather than normalising it away.
    std::size_t start = 0;
    while (start <= d.size()) {
        auto end = d.find('/', start);
        if (end == std::string::npos) end = d.size();
        std::string_view seg(d.data() + start, end - start);
        if (seg == ".." || seg == ".") return none;
        start = end + 1;
    }
    fs::path candidate = root / fs::path(d.substr(1));
    std::error_code ec;
    auto status = fs::status(candidate, ec);
    if (ec) return none;
    bool wants_dir = d.back() == '/';
    if (fs::is_directory(status)) {
        if (!wants_dir) return {StaticKind::directory_without_slash, {}};
        candidate /= "index.html";
        status = fs::status(candidate, ec);
        if (ec) return none;
    } else if (wants_dir) {
        return none;
    }
    if (!fs::is_regular_file(status)) return none;
    auto canon = fs::canonical(candidate, ec);
    if (ec || !inside(root, canon)) return none;
    return {StaticKind::file, canon};
}

std::string_view mime_type(const std::filesystem::path& file) {
    auto ext = file.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json") return "application/json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".gif") return "image/gif";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".webp") return "image/webp";
    if (ext == ".woff2") return "font/woff2";
    if (ext == ".txt" || ext == ".md") return "text/plain; charset=utf-8";
    if (ext == ".mp3") return "audio/mpeg";
    if (ext == ".wav") return "audio/wav";
    return "application/octet-stream";
}

}  // namespace sb::net
