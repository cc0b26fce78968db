# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/syncer ./cmd/syncer

FROM gcr.io/distroless/static-debian12:nonroot
# tzdata for Asia/Shanghai comes with the base image; the binary falls back to UTC+8 anyway.
COPY --from=build /out/syncer /usr/local/bin/syncer
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/syncer"]
CMD ["daemon"]
