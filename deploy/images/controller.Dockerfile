# The controller image: `mcpwarm controller`, as an unprivileged user. Build from the repository root:
#   docker build -f deploy/images/controller.Dockerfile -t localhost:5001/mcpwarm/controller:dev .
# scenarios/images/controller.image.yaml builds an equivalent image without Docker (mcpwarm image build).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY runner ./runner
COPY harness ./harness
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
WORKDIR /opt/mcpwarm
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production
EXPOSE 8090
USER 1000:1000
ENTRYPOINT ["node", "/opt/mcpwarm/dist/harness/cli/main.js", "controller"]
