# HAProxy configuration of the dops demo load balancer.
# Rendered by dops-init (watch "web" in /dops/init.d/50-lb.json) from /config/haproxy.cfg.hb
# each time the members of web.<zone> change; checked with `haproxy -c` before it replaces
# /usr/local/etc/haproxy/haproxy.cfg, then HAProxy reloads gracefully (SIGUSR2).

global
    log stdout format raw local0 notice
    # expose-fd listeners: a reload hands the listening sockets over, so no connection is refused.
    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners
    user haproxy
    group haproxy

defaults
    mode http
    log global
    option dontlognull
    # On a reload, the old worker answers one more request on each idle keep-alive connection
    # (with "connection: close") instead of closing it under the client's feet.
    option idle-close-on-response
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    # A server that vanished before the health checks noticed (refused, unreachable, or closed
    # without an answer): try another one.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    default-server inter 1s fall 2 rise 1

frontend site
    bind :80
    http-response set-header X-Served-By %[srv_name]
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /
{{#each addresses}}
    server {{ host }} {{ ip }}:3000 check
{{/each}}

frontend stats
    bind :8404
    stats enable
    stats uri /
    stats refresh 2s
    stats show-legends
