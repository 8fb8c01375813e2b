# Switchboard: multi-stage build on Debian 12 using the same dependency
# script as the README and CI.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j2 --target switchboard

FROM debian:12
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libsqlite3-0 libsodium23 libicu72 libhiredis0.14 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/switchboard --create-home switchboard \
 && install -d -o switchboard /var/lib/switchboard/shared
COPY --from=build /src/build/switchboard /usr/local/bin/switchboard
COPY --from=build /src/web-widget /usr/share/switchboard/web-widget
COPY --from=build /src/kb /usr/share/switchboard/kb
USER switchboard
WORKDIR /var/lib/switchboard
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["switchboard", "--data", "/var/lib/switchboard/data", "--web", "/usr/share/switchboard/web-widget", "--kb", "/usr/share/switchboard/kb"]
