FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/indexer /src/target/release/orderflow /usr/local/bin/
COPY migrations /app/migrations
COPY views /app/views
COPY functions /app/functions
COPY sql /app/sql
WORKDIR /app
ENV ORDERFLOW_SQL_DIR=/app
