# Multi-stage build: a Rust builder (SQLite and libpq are compiled from the crates, OpenSSL is
# vendored), then a small Debian runtime running as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs diesel.toml clippy.toml ./
COPY .cargo .cargo
COPY migrations migrations
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin tokend && strip target/release/tokend

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/tokend --create-home tokend
COPY --from=build /src/target/release/tokend /usr/local/bin/tokend
USER tokend
WORKDIR /var/lib/tokend
ENV TOKEND_BIND=0.0.0.0:8080 \
    TOKEND_DATA_DIR=/var/lib/tokend/data \
    TOKEND_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["tokend"]
CMD ["serve"]
