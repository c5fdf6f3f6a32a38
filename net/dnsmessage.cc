// Go's golang.org/x/net/dns/dnsmessage (the parts dnsclient_unix.go uses), re-made in
// our own code. Differences: one pass into structs instead of Go's lazy section parser;
// pointers must point strictly backwards (Go only counts them, up to 10; we do both);
// the additional section is never read.
#include "net/dnsmessage.h"

#include <cstring>

#include <string>

namespace gonet::net_internal::dns {
namespace {

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(std::string("dnsmessage: ").append(what));
}

// A bounds-checked reader over the packet.
class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  size_t off() const { return off_; }
  size_t size() const { return p_.size(); }
  bool U8(uint8_t* v) {
    if (p_.size() - off_ < 1) return false;
    *v = static_cast<uint8_t>(p_[off_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (p_.size() - off_ < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(p_[off_]) << 8) |
                               static_cast<uint8_t>(p_[off_ + 1]));
    off_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    uint16_t hi, lo;
    if (p_.size() - off_ < 4) return false;
    U16(&hi);
    U16(&lo);
    *v = (static_cast<uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool Bytes(size_t n, uint8_t* out) {
    if (p_.size() - off_ < n) return false;
    std::memcpy(out, p_.data() + off_, n);
    off_ += n;
    return true;
  }
  void Skip(size_t n) { off_ += n; }  // caller checked n <= remaining
  size_t Remaining() const { return p_.size() - off_; }

  // A (possibly compressed) name at off_; off_ moves past its in-place part, which
  // must end at or before `limit`.
  absl::Status Name(std::string* out, size_t limit) {
    out->clear();
    size_t pos = off_;
    size_t seg_start = off_;  // where the labels being read began
    size_t end_in_place = 0;  // set at the first pointer or the terminating zero
    bool jumped = false;
    int pointers = 0;
    size_t wire_len = 0;
    for (;;) {
      if (pos >= p_.size() || (!jumped && pos >= limit)) return Bad("name overruns the packet");
      const uint8_t c = static_cast<uint8_t>(p_[pos]);
      switch (c & 0xC0) {
        case 0x00: {
          wire_len += 1 + c;
          if (wire_len > kMaxNameWireLen) return Bad("name longer than 255 bytes");
          if (c == 0) {
            if (!jumped) end_in_place = pos + 1;
            if (out->empty()) out->push_back('.');
            off_ = end_in_place;
            return absl::OkStatus();
          }
          // c <= 63 here (the two top bits are clear).
          if (pos + 1 + c > p_.size() || (!jumped && pos + 1 + c >= limit)) {
            return Bad("label overruns the packet");
          }
          out->append(p_.data() + pos + 1, c);
          out->push_back('.');
          pos += 1 + c;
          break;
        }
        case 0xC0: {
          if (pos + 1 >= p_.size() || (!jumped && pos + 1 >= limit)) {
            return Bad("compression pointer overruns the packet");
          }
          const size_t target = ((c & 0x3F) << 8) | static_cast<uint8_t>(p_[pos + 1]);
          // Strictly backwards, to before the labels that led to this pointer: the
          // segment starts then strictly decrease, so no pointer to itself, forwards
          // or into a loop can pass this.
          if (target >= seg_start) return Bad("compression pointer does not point backwards");
          seg_start = target;
          if (++pointers > kMaxPointers) return Bad("too many compression pointers");
          if (!jumped) end_in_place = pos + 2;
          jumped = true;
          pos = target;
          break;
        }
        default:
          return Bad("reserved label type");
      }
    }
  }

 private:
  std::string_view p_;
  size_t off_ = 0;
};

absl::Status ParseResource(Reader& r, Resource* rr) {
  if (absl::Status s = r.Name(&rr->name, r.size()); !s.ok()) return s;
  uint16_t rdlen;
  if (!r.U16(&rr->type) || !r.U16(&rr->cls) || !r.U32(&rr->ttl) || !r.U16(&rdlen)) {
    return Bad("resource header overruns the packet");
  }
  if (rdlen > r.Remaining()) return Bad("resource data overruns the packet");
  const size_t end = r.off() + rdlen;
  switch (rr->type) {
    case kTypeA:
    case kTypeAAAA: {
      const size_t want = rr->type == kTypeA ? 4 : 16;
      if (rdlen != want) return Bad("address of the wrong length");
      r.Bytes(want, rr->ip.data());
      rr->ip_len = static_cast<uint8_t>(want);
      return absl::OkStatus();
    }
    case kTypeCNAME:
    case kTypePTR:
      if (absl::Status s = r.Name(&rr->target, end); !s.ok()) return s;
      break;
    case kTypeSRV:
      if (rdlen < 7 || !r.U16(&rr->priority) || !r.U16(&rr->weight) || !r.U16(&rr->port)) {
        return Bad("SRV data too short");
      }
      if (absl::Status s = r.Name(&rr->target, end); !s.ok()) return s;
      break;
    default:
      r.Skip(rdlen);
      return absl::OkStatus();
  }
  if (r.off() != end) return Bad("resource data length mismatch");
  return absl::OkStatus();
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xFF));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xFFFF));
}

absl::Status PutName(std::string* out, std::string_view name) {
  if (name.empty()) return Bad("empty name");
  if (name == ".") {
    out->push_back('\0');
    return absl::OkStatus();
  }
  if (name.back() == '.') name.remove_suffix(1);  // not rooted: the dot is implied
  size_t wire_len = 1;
  while (true) {
    const size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty()) return Bad("empty label");
    if (label.size() > kMaxLabelLen) return Bad("label longer than 63 bytes");
    wire_len += 1 + label.size();
    if (wire_len > kMaxNameWireLen) return Bad("name longer than 255 bytes");
    out->push_back(static_cast<char>(label.size()));
    out->append(label);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out->push_back('\0');
  return absl::OkStatus();
}

void PutHeader(std::string* out, const Header& h, size_t qd, size_t an, size_t ns) {
  Put16(out, h.id);
  uint16_t flags = static_cast<uint16_t>((h.response ? 0x8000 : 0) | ((h.opcode & 0xF) << 11) |
                                         (h.authoritative ? 0x0400 : 0) |
                                         (h.truncated ? 0x0200 : 0) |
                                         (h.recursion_desired ? 0x0100 : 0) |
                                         (h.recursion_available ? 0x0080 : 0) | (h.rcode & 0xF));
  Put16(out, flags);
  Put16(out, static_cast<uint16_t>(qd));
  Put16(out, static_cast<uint16_t>(an));
  Put16(out, static_cast<uint16_t>(ns));
  Put16(out, 0);
}

absl::Status PutResource(std::string* out, const Resource& rr) {
  if (absl::Status s = PutName(out, rr.name); !s.ok()) return s;
  Put16(out, rr.type);
  Put16(out, rr.cls);
  Put32(out, rr.ttl);
  std::string data;
  switch (rr.type) {
    case kTypeA:
    case kTypeAAAA:
      if (rr.ip_len != (rr.type == kTypeA ? 4 : 16)) return Bad("address of the wrong length");
      data.assign(reinterpret_cast<const char*>(rr.ip.data()), rr.ip_len);
      break;
    case kTypeCNAME:
    case kTypePTR:
      if (absl::Status s = PutName(&data, rr.target); !s.ok()) return s;
      break;
    case kTypeSRV:
      Put16(&data, rr.priority);
      Put16(&data, rr.weight);
      Put16(&data, rr.port);
      if (absl::Status s = PutName(&data, rr.target); !s.ok()) return s;
      break;
    default:
      break;
  }
  Put16(out, static_cast<uint16_t>(data.size()));
  out->append(data);
  return absl::OkStatus();
}

}  // namespace

bool EqualNames(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

absl::StatusOr<std::string> BuildQuery(uint16_t id, std::string_view name, uint16_t type,
                                       uint16_t cls) {
  Message m;
  m.header.id = id;
  m.header.recursion_desired = true;
  m.questions.push_back({std::string(name), type, cls});
  return BuildMessage(m);
}

absl::StatusOr<std::string> BuildMessage(const Message& m) {
  std::string out;
  out.reserve(512);
  PutHeader(&out, m.header, m.questions.size(), m.answers.size(), m.authorities.size());
  for (const Question& q : m.questions) {
    if (absl::Status s = PutName(&out, q.name); !s.ok()) return s;
    Put16(&out, q.type);
    Put16(&out, q.cls);
  }
  for (const Resource& rr : m.answers) {
    if (absl::Status s = PutResource(&out, rr); !s.ok()) return s;
  }
  for (const Resource& rr : m.authorities) {
    if (absl::Status s = PutResource(&out, rr); !s.ok()) return s;
  }
  if (out.size() > 65535) return Bad("message longer than 65535 bytes");
  return out;
}

absl::StatusOr<Message> ParseMessage(std::string_view packet) {
  Reader r(packet);
  Message m;
  uint16_t flags, qd, an, ns, ar;
  if (!r.U16(&m.header.id) || !r.U16(&flags) || !r.U16(&qd) || !r.U16(&an) || !r.U16(&ns) ||
      !r.U16(&ar)) {
    return Bad("truncated header");
  }
  m.header.response = flags & 0x8000;
  m.header.opcode = (flags >> 11) & 0xF;
  m.header.authoritative = flags & 0x0400;
  m.header.truncated = flags & 0x0200;
  m.header.recursion_desired = flags & 0x0100;
  m.header.recursion_available = flags & 0x0080;
  m.header.rcode = flags & 0xF;
  // Each question takes at least 5 bytes and each record 11: counts the packet cannot
  // hold fail before anything is reserved.
  if (static_cast<size_t>(qd) * 5 + (static_cast<size_t>(an) + ns) * 11 > r.Remaining()) {
    return Bad("section counts overrun the packet");
  }
  m.questions.resize(qd);
  for (Question& q : m.questions) {
    if (absl::Status s = r.Name(&q.name, r.size()); !s.ok()) return s;
    if (!r.U16(&q.type) || !r.U16(&q.cls)) return Bad("question overruns the packet");
  }
  m.answers.resize(an);
  for (Resource& rr : m.answers) {
    if (absl::Status s = ParseResource(r, &rr); !s.ok()) return s;
  }
  m.authorities.resize(ns);
  for (Resource& rr : m.authorities) {
    if (absl::Status s = ParseResource(r, &rr); !s.ok()) return s;
  }
  return m;
}

absl::Status CheckResponse(const Message& resp, uint16_t id, const Question& q) {
  if (!resp.header.response) return Bad("not a response");
  if (resp.header.id != id) return Bad("answer for another transaction id");
  if (resp.questions.size() != 1) return Bad("answer for another question");
  const Question& rq = resp.questions[0];
  std::string_view want = q.name;
  std::string want_rooted;
  if (want.empty() || want.back() != '.') {
    want_rooted = std::string(want) + ".";
    want = want_rooted;
  }
  if (rq.type != q.type || rq.cls != q.cls || !EqualNames(rq.name, want)) {
    return Bad("answer for another question");
  }
  return absl::OkStatus();
}

}  // namespace gonet::net_internal::dns
