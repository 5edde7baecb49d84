# touchstream: one image, any subset of services (`--target`). Used by docker-compose.yml and deploy/.
FROM node:24-bookworm-slim
WORKDIR /app
RUN corepack enable && corepack prepare pnpm@10 --activate
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY schemas ./schemas
COPY packages ./packages
COPY services ./services
COPY apps ./apps
RUN pnpm install --frozen-lockfile --prod=false
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
ENTRYPOINT ["node", "--import", "tsx", "--import", "./apps/touchstream/src/telemetry.ts", "apps/touchstream/src/main.ts", "run"]
CMD ["--target", "all"]
