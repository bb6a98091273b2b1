# syntax=docker/dockerfile:1
# A static, non-root image of sa01-secrets: built from the module in a Go
# stage, run from distroless/static (no shell, no package manager), as the
# nonroot user (65532). The version is stamped with -ldflags:
#   docker build --build-arg VERSION=$(git describe --tags --always) -t sa01-secrets .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.Version=${VERSION}" -o /out/sa01-secrets ./cmd/sa01-secrets \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sa01-secrets /usr/local/bin/sa01-secrets
COPY --from=build --chown=65532:65532 --chmod=0700 /out/state /var/lib/sa01-secrets
USER 65532:65532
ENV SA01_SECRETS_DB_DSN=sqlite:///var/lib/sa01-secrets/secrets.db
VOLUME ["/var/lib/sa01-secrets"]
EXPOSE 8200
ENTRYPOINT ["/usr/local/bin/sa01-secrets"]
CMD ["serve"]
