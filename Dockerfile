# Build stage: all dependencies, the bundler, the sources; emits dist/spool.js.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund && npm run build \
  # Production dependencies only; the workspace packages are inside the bundle.
  && npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/@spool

# Runtime stage: the compiled bundle and production dependencies, nothing else; not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 8080
# Plain node on the bundle (no tsx, no build step at start). SPOOL_WORKERS decides the processes.
CMD ["node", "dist/spool.js"]
