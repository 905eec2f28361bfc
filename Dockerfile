# syntax=docker/dockerfile:1
# Build a static vane binary (pure Go: CGO_ENABLED=0, SQLite included) and ship it alone.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY sdk/go/go.mod sdk/go/
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vane ./cmd/vane \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vane /usr/local/bin/vane
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV VANE_ADDR=:8000 VANE_DATA_DIR=/data
EXPOSE 8000
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/vane"]
CMD ["serve"]
