# touchstream: one image, any subset of services (`--target`). Used by docker-compose.yml and deploy/.
# Only what runs in production: the executable (apps/), the services and their packages. Developer and operator
# tools (tools/: up, demo, benchmarks, quality, the local-engine launcher, the test kit) and test/ stay out.
FROM node:24-bookworm-slim
WORKDIR /app
RUN corepack enable && corepack prepare pnpm@10 --activate
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY patches ./patches
COPY schemas ./schemas
COPY rules ./rules
COPY packages ./packages
COPY services ./services
COPY apps ./apps
# Only the executable and its runtime dependencies: tools/ and test/ are not in the image, and development
# dependencies (test kits linked from tools/, vitest, typescript) are not installed. tsx, which runs the
# TypeScript sources, is a runtime dependency of the app. apps/touchstream/src/image.test.ts checks this file.
RUN pnpm install --frozen-lockfile --prod --filter @touchstream/app...
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
# Node resolves `--import tsx` from the working directory: the app's, where pnpm linked its dependencies (the
# workspace root has only development dependencies, not installed here).
WORKDIR /app/apps/touchstream
ENTRYPOINT ["node", "--import", "tsx", "--import", "./src/telemetry.ts", "src/main.ts", "run"]
CMD ["--target", "all"]
