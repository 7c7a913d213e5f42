#!/usr/bin/env python3
"""Git's smart HTTP protocol over loopback for scripts/flux.sh: `git http-backend` (Git's own
CGI program) behind a minimal HTTP server, so Flux's source-controller clones the test
repositories as it would from any Git host (it accepts http(s) and ssh URLs, not git://).

    git-http-server.py ROOT PORT_FILE     serves ROOT/<repo>.git on 127.0.0.1:<free port>,
                                          writes the port to PORT_FILE; stops on SIGTERM
"""
import http.server
import os
import subprocess
import sys


def main():
    root, port_file = sys.argv[1], sys.argv[2]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # to the log file, one line a request
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def run_backend(self):
            path, _, query = self.path.partition("?")
            body = self.read_body()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
            }
            for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
                if self.headers.get(header):
                    env[var] = self.headers[header]
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
            sep = b"\r\n\r\n" if b"\r\n\r\n" in out.stdout else b"\n\n"
            head, _, content = out.stdout.partition(sep)
            status, headers = 200, []
            for line in head.replace(b"\r\n", b"\n").split(b"\n"):
                if b":" not in line:
                    continue
                name, value = (p.strip() for p in line.decode("latin-1").split(":", 1))
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value))
            if out.returncode != 0 and not head:
                status, content = 500, out.stderr
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = run_backend
        do_POST = run_backend

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
