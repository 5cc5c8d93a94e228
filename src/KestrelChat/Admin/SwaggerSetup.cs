using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace KestrelChat.Admin;

/// <summary>OpenAPI document and Swagger UI at /swagger, with the API key usable from the Authorize button.</summary>
internal static class SwaggerSetup
{
    public static IServiceCollection AddAdminSwagger(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "KestrelChat admin API",
                Version = "v1",
                Description = "List the chat's clients and rooms, disconnect a client, announce to everyone or to one room, and stop the server. " +
                    "When Admin:ApiKey is set, click Authorize and enter the key.",
            });
            // The models' own doc comments (what each field of GET /clients, GET /rooms and POST /broadcast means).
            var comments = Path.Combine(AppContext.BaseDirectory, "KestrelChat.xml");
            if (File.Exists(comments))
            {
                options.IncludeXmlComments(comments);
            }
            options.AddSecurityDefinition(ApiKeyAuthenticationHandler.SchemeName, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyAuthenticationHandler.HeaderName,
                Description = "The admin API key (Admin:ApiKey). 'Authorization: Bearer KEY' works too.",
            });
            options.OperationFilter<ApiKeyRequirementFilter>();
        });
        return services;
    }

    /// <summary>
    /// Serves /swagger through a branch built on its first request. Swashbuckle's middleware takes a
    /// service in Invoke, which ASP.NET Core binds by compiling an expression tree: built at start-up, it
    /// costs every server about 4 MB (System.Linq.Expressions, the UI's file provider) for a page an
    /// operator opens now and then.
    /// </summary>
    public static WebApplication UseAdminSwagger(this WebApplication app)
    {
        app.Use(next =>
        {
            var swagger = new Lazy<RequestDelegate>(() =>
            {
                var branch = ((IApplicationBuilder)app).New();
                branch.UseSwagger();
                branch.UseSwaggerUI(options =>
                {
                    options.SwaggerEndpoint("/swagger/v1/swagger.json", "KestrelChat admin API v1");
                    options.DocumentTitle = "KestrelChat admin API";
                });
                branch.Run(next);
                return branch.Build();
            });
            return context => context.Request.Path.StartsWithSegments("/swagger") ? swagger.Value(context) : next(context);
        });
        return app;
    }

    /// <summary>Marks the operations that need the key (those that require authorization), and only those.</summary>
    private sealed class ApiKeyRequirementFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any())
            {
                return;
            }
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(ApiKeyAuthenticationHandler.SchemeName, context.Document)] = [],
            });
            operation.Responses ??= [];
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "The API key is missing or wrong." });
            operation.Responses.TryAdd("429", new OpenApiResponse
            {
                Description = "Too many requests with a missing or wrong key from this address (Admin:FailedKeyAttemptsPerMinute).",
            });
        }
    }
}
