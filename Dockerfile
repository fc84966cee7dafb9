# One image for the three services, the bus setup and the init step; docker-compose.yml picks one with `command`.
# Build stage: full dependencies, compile TypeScript, then drop the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY apps ./apps
COPY scripts ./scripts
# The chaos and fuzz scripts compile with the end-to-end harness they share (test/support).
COPY test ./test
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled output and production dependencies only, as the unprivileged `node` user (uid 1000: the
# init step makes the services' secret files theirs).
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 3001 3002 3003
CMD ["node", "dist/apps/pairing/src/main.js"]
