# What the HTTP tests and benchmarks share: generated safetensors files,
# and nginx on loopback with a temporary
# configuration under $work/nginx, the document root $work/www, the
# access log $work/nginx/access.log (one line per request). Sourced;
# the caller sets $work and $nginx, keeps $pids and kills them on exit.

# A self-signed certificate for 127.0.0.1 ($work/cert.pem, key.pem);
# start_nginx then also serves HTTPS on $tls_port.
make_certificate() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || rm -f "$work/cert.pem"
}

# Starts nginx on a free port ($port; HTTPS on $tls_port with a certificate).
start_nginx() {
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    tls_port=$((port + 1))
    mkdir -p "$work/nginx/tmp"
    local user="" tls=""
    [ "$(id -u)" = 0 ] && user="user root;"
    if [ -e "$work/cert.pem" ]; then
      tls="server { listen 127.0.0.1:$tls_port ssl; ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem; root $work/www; }"
    fi
    cat >"$work/nginx/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  access_log $work/nginx/access.log;
  sendfile on;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  types { application/octet-stream owf safetensors gguf; }
  server { listen 127.0.0.1:$port; root $work/www; }
  $tls
}
EOF
    "$nginx" -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log" &
    local pid=$!
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        pids+=("$pid")
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  echo "cannot start nginx"
  cat "$work/nginx/error.log"
  exit 2
}

u64le() {
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
    $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)) \
    $((($1 >> 32) & 255)) $((($1 >> 40) & 255)) $((($1 >> 48) & 255)) $((($1 >> 56) & 255)))"
}

# safetensors FILE NAME:ELEMENTS...: one-dimensional tensors of $ST_DTYPE
# (default F32, $ST_BYTES bytes each, default 4) filled from $ST_DATA
# (default /dev/zero).
safetensors() {
  local file=$1 header="{" offset=0 sep="" dtype=${ST_DTYPE:-F32} size=${ST_BYTES:-4}
  shift
  for spec in "$@"; do
    local name=${spec%%:*} n=${spec##*:}
    header+="$sep\"$name\":{\"dtype\":\"$dtype\",\"shape\":[$n],\"data_offsets\":[$offset,$((offset + size * n))]}"
    offset=$((offset + size * n))
    sep=","
  done
  header+="}"
  while [ $((${#header} % 8)) -ne 0 ]; do header+=" "; done
  { u64le ${#header}; printf '%s' "$header"; head -c "$offset" "${ST_DATA:-/dev/zero}"; } >"$file"
}
