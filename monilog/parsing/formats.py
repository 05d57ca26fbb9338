"""The names of the log formats monilog reads, and the format strings of its presets: plain
constants, importable without the parser or the format compiler.

``monitoring``'s command line names them in its ``--log-format`` help before anything is parsed;
:mod:`monilog.parsing.logformat` compiles the presets.
"""

from __future__ import annotations

FORMATS = ("auto", "common", "combined", "w3c")
"""The accepted values of ``fmt`` (:class:`~monilog.parsing.parser.LogParser`)."""

PRESETS = {
    "vhost_combined": r'%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"',
    "nginx": ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'),
    "nginx_vhost": ('$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'),
    "traefik_clf": ('%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" %{requests}n '
                    '\\"%{router}n\\" \\"%{url}n\\" %{ms}Tms'),
    "elb": ('$time_iso8601 $elb $remote_addr:$remote_port $backend $request_processing_time $backend_processing_time '
            '$response_processing_time $status $backend_status_code $received_bytes $bytes_sent '
            '"$absolute_request" "$http_user_agent" $ssl_cipher $ssl_protocol'),
    "alb": ('$type $time_iso8601 $elb $remote_addr:$remote_port $target $request_processing_time $target_processing_time '
            '$response_processing_time $status $target_status_code $received_bytes $bytes_sent '
            '"$absolute_request" "$http_user_agent" ...'),
    "s3": (r'%{bucket_owner}n %v %t %h %u %{request_id}n %{operation}n %{key}n \"%r\" %>s %{error_code}n %b '
           r'%{object_size}n %{ms}T %{turn_around_time}n \"%{Referer}i\" \"%{User-Agent}i\" ...'),
    "cloudfront": (r'%{%Y-%m-%d\t%H:%M:%S}t\t%{x-edge-location}n\t%B\t%a\t%m\t%{cs(Host)}n\t%U\t%>s\t%{Referer}i\t'
                   r'%{User-Agent}i\t%q\t%{Cookie}i\t%{x-edge-result-type}n\t%{x-edge-request-id}n\t%{Host}i\t%H\t%I\t'
                   r'%{s}T\t...'),
    "squid": r'%{sec}t %{ms}T %h %{result_code}n/%>s %b %m %U %u %{hierarchy_code}n/%{peer}n %{type}n ...',
}
"""Named formats beside the built-in ``auto``, ``common``, ``combined`` and ``w3c``: the format
strings they stand for, with the fields in the order the vendor documents them:

* ``vhost_combined``: Debian Apache's; ``nginx``, ``nginx_vhost``: nginx's ``combined`` with the
  request and upstream times (and ``$host`` first); ``traefik_clf``: Traefik's CLF.
* ``elb``, ``alb``: AWS Classic and Application Load Balancer access logs. The client is the
  ``client:port`` address; the status is the load balancer's (``elb_status_code``: what the
  client got), the size ``sent_bytes``; the duration is the sum of the request, target and
  response processing times, the upstream time the target's; the vhost is the host of the
  request's absolute URL. Lines with a ``-`` status (a Classic TCP listener's) are malformed.
* ``s3``: S3 server access logs: the bucket is the vhost, the requester the user,
  ``total_time`` (ms) the duration, ``bytes_sent`` the size.
* ``cloudfront``: CloudFront standard logs, tab-separated, in the documented order of their
  fields (the ``#Version`` and ``#Fields`` lines are comments): ``date`` and ``time`` (UTC) are
  the time, ``c-ip`` the client, ``cs-uri-stem`` the target, ``sc-bytes`` the size,
  ``time-taken`` (s) the duration and ``x-host-header`` (the Host the viewer asked for, the
  site's own name where ``cs(Host)`` is the distribution's) the vhost. ``w3c`` reads any field
  order from the ``#Fields`` line, without duration or vhost.
* ``squid``: Squid's native ``access.log``: the time is seconds since the epoch with
  milliseconds, the elapsed milliseconds (padded) the duration, the status the one after the
  ``/`` of ``TCP_MISS/200``, the URL the target.

A status ``000`` (CloudFront, Squid: the client left before any response) is no status: such a
line is malformed.
"""

ALIASES = {"vcombined": "vhost_combined", "caddy": "json", "traefik_json": "json"}
"""Other names of presets and of ``json`` (whose known keys include Caddy's and Traefik's)."""

NAMES = (*FORMATS, "json", *PRESETS, *ALIASES)
"""Every name ``--log-format`` takes (beside a format string), in the order they are listed."""
